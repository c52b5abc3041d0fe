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
