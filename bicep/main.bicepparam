// Parameters for `azd provision` (azd reads the azd environment into the process environment first) and for
// `az deployment sub create --parameters bicep/main.bicepparam` with the same variables exported.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param location = readEnvironmentVariable('AZURE_LOCATION')
param principalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param principalType = readEnvironmentVariable('AZURE_PRINCIPAL_TYPE', 'User')
param functionInstanceMemoryMB = int(readEnvironmentVariable('FUNCTION_INSTANCE_MEMORY_MB', '2048'))
param functionMaximumInstanceCount = int(readEnvironmentVariable('FUNCTION_MAXIMUM_INSTANCE_COUNT', '100'))
param redisSkuName = readEnvironmentVariable('REDIS_SKU_NAME', 'Balanced_B1')
param aksServingNodeMaxCount = int(readEnvironmentVariable('AKS_SERVING_NODE_MAX_COUNT', '6'))
param nodeExtraCaCertsPath = readEnvironmentVariable('NODE_EXTRA_CA_CERTS_PATH', '')
// Network exposure (docs/deploy.md): NETWORK_ISOLATION=false for a development environment; OPERATOR_IP_RANGES is a
// comma-separated list (no spaces) of the public addresses or CIDRs that may reach Storage, Key Vault and the AKS API
// server from outside the VNet.
param networkIsolation = bool(readEnvironmentVariable('NETWORK_ISOLATION', 'true'))
param operatorIpRanges = empty(readEnvironmentVariable('OPERATOR_IP_RANGES', '')) ? [] : split(readEnvironmentVariable('OPERATOR_IP_RANGES', ''), ',')
param aksPrivateCluster = bool(readEnvironmentVariable('AKS_PRIVATE_CLUSTER', 'false'))
