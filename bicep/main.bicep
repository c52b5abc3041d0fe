// The whole Azure side of the spam-detection platform, for `azd up` (or `az deployment sub create`):
// resource group, network, storage, Event Grid system topic, monitoring, identities and roles, Key Vault,
// Azure Managed Redis, AKS + ACR, and the Function App on Flex Consumption. The Kubernetes side (KServe, the
// internal ingress, the InferenceServices) is in aks/ and is applied after this (docs/deploy.md).
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('azd environment name; names the resource group and seeds the unique suffix of every resource.')
param environmentName string

@minLength(1)
@description('Region of every resource (must offer Flex Consumption, AKS and Azure Managed Redis).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object ID of the person or service principal that deploys (azd sets AZURE_PRINCIPAL_ID); gets data access to upload models, seed secrets and apply aks/. Empty to skip.')
param principalId string = ''

@description('Type of principalId.')
@allowed(['User', 'ServicePrincipal'])
param principalType string = 'User'

@description('Flex Consumption instance memory in MB.')
@allowed([512, 2048, 4096])
param functionInstanceMemoryMB int = 2048

@description('Flex Consumption maximum instance count.')
@minValue(40)
@maxValue(1000)
param functionMaximumInstanceCount int = 100

@description('Address space of the VNet shared by the Function App and AKS.')
param vnetAddressPrefix string = '10.10.0.0/16'

@description('Private DNS zone of the KServe hostnames; must match the hosts of aks/ingress/gateway.yaml.')
param kserveDnsZoneName string = 'ml.internal'

@description('Host label of the production InferenceService in kserveDnsZoneName (aks/).')
param kserveProductionHostLabel string = 'spam-detector'

@description('Host label of the staging InferenceService in kserveDnsZoneName (aks/).')
param kserveStagingHostLabel string = 'spam-detector-staging'

@description('Namespace of the InferenceServices (aks/serving/).')
param kserveNamespace string = 'kserve'

@description('Service account the InferenceServices run as; federated with the identity that reads models/ (aks/serving/serviceaccount.yaml).')
param kserveServiceAccount string = 'spam-detector-models'

@description('Namespace of the training job (aks/training/).')
param trainerNamespace string = 'kubeflow'

@description('Service account of the training job; federated with the identity that publishes models and baselines (aks/training/).')
param trainerServiceAccount string = 'spam-detector-trainer'

@description('Path of a PEM bundle inside the deployed app that Node.js should trust in addition to its own CAs (NODE_EXTRA_CA_CERTS), e.g. /home/site/wwwroot/certs/ml-internal-ca.pem when the KServe ingress certificate comes from a private CA; empty when it comes from a public CA.')
param nodeExtraCaCertsPath string = ''

@description('Kubernetes version; empty for the region default.')
param kubernetesVersion string = ''

@description('VM size of the AKS system pool.')
param aksSystemNodeVmSize string = 'Standard_D2ds_v5'

@description('VM size of the KServe pool.')
param aksServingNodeVmSize string = 'Standard_D4ds_v5'

@description('Minimum nodes in the KServe pool: room for the minimum replicas (production 2, staging 1) plus KServe and the ingress.')
param aksServingNodeMinCount int = 2

@description('Maximum nodes in the KServe pool: room for the maximum replicas (production 10, staging 3).')
param aksServingNodeMaxCount int = 6

@description('Azure Managed Redis SKU.')
param redisSkuName string = 'Balanced_B1'

@description('Days a feedback record (it holds the reported message) is kept before the lifecycle policy deletes it.')
@minValue(1)
param feedbackRetentionDays int = 180

@description('Production network posture (docs/deploy.md, "Network exposure"): Storage and Key Vault deny public traffic except from operatorIpRanges and are reached from the VNet through private endpoints; the public AKS API server answers only the Function App\'s NAT address and operatorIpRanges. false for a throwaway development environment: public endpoints stay open (every call still needs Entra ID).')
param networkIsolation bool = true

@description('Public IPv4 CIDRs of the operators (workstations, a CI runner\'s egress; a single address as /32) that reach Storage, Key Vault and the AKS API server from outside the VNet when networkIsolation is on, e.g. [\'203.0.113.7/32\']. Empty: nobody outside the VNet.')
param operatorIpRanges string[] = []

@description('Private AKS API server (reachable from the VNet only; operators use `az aks command invoke`). Decided when the cluster is created.')
param aksPrivateCluster bool = false

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = 'func-spam-${resourceToken}'
// Blob containers of shared/platform/blobLayout.ts, plus the Flex Consumption deployment package.
var dataContainers = ['models', 'baselines', 'inference-logs', 'drift-reports', 'feedback']
var deploymentContainerName = 'deployment-package'
var senderHashKeySecretName = 'sender-hash-key'
var gatewayKeySecretName = 'promotion-gateway-key'
var kserveProductionHost = '${kserveProductionHostLabel}.${kserveDnsZoneName}'
var kserveStagingHost = '${kserveStagingHostLabel}.${kserveDnsZoneName}'
// Storage rejects /31 and /32 prefixes (a single address is written without one); Key Vault takes either form.
var operatorAddresses = [for cidr in operatorIpRanges: replace(cidr, '/32', '')]

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module network 'modules/network.bicep' = {
  name: 'network'
  scope: rg
  params: {
    location: location
    tags: tags
    vnetName: 'vnet-${resourceToken}'
    addressPrefix: vnetAddressPrefix
    kserveDnsZoneName: kserveDnsZoneName
    kserveHostLabels: [kserveProductionHostLabel, kserveStagingHostLabel]
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'st${resourceToken}'
    containerNames: concat(dataContainers, [deploymentContainerName])
    feedbackContainerName: dataContainers[4]
    feedbackRetentionDays: feedbackRetentionDays
    driftReportsContainerName: dataContainers[3]
    networkIsolation: networkIsolation
    operatorIpRanges: operatorAddresses
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
  }
}

module eventGrid 'modules/eventGrid.bicep' = {
  name: 'eventGrid'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'evgt-${resourceToken}'
    storageAccountId: storage.outputs.id
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: 'logAnalytics'
  scope: rg
  params: {
    name: 'log-${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module appInsights 'br/public:avm/res/insights/component:0.6.0' = {
  name: 'appInsights'
  scope: rg
  params: {
    name: 'appi-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    // Entra-only ingestion: the app's identity has Monitoring Metrics Publisher (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
    disableLocalAuth: true
  }
}

module appIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'appIdentity'
  scope: rg
  params: {
    name: 'id-func-${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'modules/keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'kv-${resourceToken}'
    networkIsolation: networkIsolation
    operatorIpRanges: operatorAddresses
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
  }
}

module redis 'modules/redis.bicep' = {
  name: 'redis'
  scope: rg
  params: {
    location: location
    tags: tags
    name: 'redis-${resourceToken}'
    skuName: redisSkuName
    dataAccessPrincipalIds: [appIdentity.outputs.principalId]
    privateEndpointSubnetId: network.outputs.privateEndpointSubnetId
    vnetId: network.outputs.vnetId
  }
}

module aks 'modules/aks.bicep' = {
  name: 'aks'
  scope: rg
  params: {
    location: location
    tags: tags
    clusterName: 'aks-${resourceToken}'
    registryName: 'cr${resourceToken}'
    kubernetesVersion: kubernetesVersion
    nodesSubnetId: network.outputs.aksNodesSubnetId
    vnetName: network.outputs.vnetName
    systemNodeVmSize: aksSystemNodeVmSize
    servingNodeVmSize: aksServingNodeVmSize
    servingNodeMinCount: aksServingNodeMinCount
    servingNodeMaxCount: aksServingNodeMaxCount
    kserveIdentityName: 'id-kserve-${resourceToken}'
    kserveNamespace: kserveNamespace
    kserveServiceAccount: kserveServiceAccount
    trainerIdentityName: 'id-trainer-${resourceToken}'
    trainerNamespace: trainerNamespace
    trainerServiceAccount: trainerServiceAccount
    adminPrincipalId: principalId
    adminPrincipalType: principalType
    logAnalyticsWorkspaceId: logAnalytics.outputs.resourceId
    privateCluster: aksPrivateCluster
    // The promotion's Kubernetes calls leave the Function App through the NAT gateway.
    authorizedIpRanges: networkIsolation ? concat(['${network.outputs.natPublicIp}/32'], operatorIpRanges) : []
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    modelsContainerName: dataContainers[0]
    baselinesContainerName: dataContainers[1]
    feedbackContainerName: dataContainers[4]
    appInsightsName: appInsights.outputs.name
    keyVaultName: keyVault.outputs.name
    appPrincipalId: appIdentity.outputs.principalId
    kservePrincipalId: aks.outputs.kserveIdentityPrincipalId
    trainerPrincipalId: aks.outputs.trainerIdentityPrincipalId
    deployerPrincipalId: principalId
    deployerPrincipalType: principalType
  }
}

// App settings. `platformSettings` are the Functions platform's and Azure SDKs' own; `bindingSettings` and
// `appSettings` are settings of shared/platform/config.ts `settingSpecs` that the app needs in Azure (test/integration/tools/appSettings.test.ts fails when a
// setting marked azure: 'bicep' is missing here, when one here is not defined by the app, when a binding's %NAME%
// is not set, or when a secret is anything but a Key Vault reference or an identity-based connection).
// Flex Consumption sets the runtime in functionAppConfig: FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION
// must not be app settings there.
var platformSettings = union(
  {
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.outputs.connectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${appIdentity.outputs.clientId};Authorization=AAD'
    // DefaultAzureCredential picks the user-assigned identity (Redis Entra tokens).
    AZURE_CLIENT_ID: appIdentity.outputs.clientId
  },
  empty(nodeExtraCaCertsPath) ? {} : { NODE_EXTRA_CA_CERTS: nodeExtraCaCertsPath }
)

// Settings that binding expressions (%NAME%, e.g. the drift timer's schedule) reference, with the app's defaults:
// the host resolves them from app settings only. Generated from the registrations by `npm run bicep:settings`.
var bindingSettings = loadJsonContent('bindingSettings.json')

var appSettings = {
  AzureWebJobsStorage__accountName: storage.outputs.name
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: appIdentity.outputs.clientId
  KSERVE_PRODUCTION_URL: 'https://${kserveProductionHost}'
  KSERVE_STAGING_URL: 'https://${kserveStagingHost}'
  // No password in the URL: access keys are off and the app authenticates with an Entra token of its identity.
  REDIS_URL: 'rediss://${redis.outputs.hostName}:${redis.outputs.port}'
  SENDER_HASH_KEY: '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=${senderHashKeySecretName})'
  // In Azure the workflows (the drift check's fan-out over log partitions, promotions with their approval wait of
  // up to a day) run on the Durable Functions extension, which keeps their state in the storage account.
  WORKFLOW_BACKEND: 'durable'
  // Promotion (shared/lifecycle/promotion/): the Kubernetes API with an Entra token of the app's identity, and the app's own
  // predict endpoint for the smoke evaluation. The host name is the Function App's default one.
  KUBE_CONNECTION: 'aks'
  AKS_SERVER_URL: 'https://${aks.outputs.apiServerFqdn}'
  AKS_CA_DATA: aks.outputs.apiServerCaData
  AKS_CLIENT_ID: appIdentity.outputs.clientId
  PROMOTION_GATEWAY_URL: 'https://${functionAppName}.azurewebsites.net/api'
  // predict has function-level auth: the smoke evaluation is a caller like any other, so postdeploy.sh stores the
  // app's default function key (never the master key) under this name.
  PROMOTION_GATEWAY_KEY: '@Microsoft.KeyVault(VaultName=${keyVault.outputs.name};SecretName=${gatewayKeySecretName})'
}

module functionApp 'modules/functionApp.bicep' = {
  name: 'functionApp'
  scope: rg
  dependsOn: [rbac]
  params: {
    location: location
    tags: tags
    name: functionAppName
    planName: 'plan-${resourceToken}'
    azdServiceName: 'api'
    identityId: appIdentity.outputs.resourceId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    instanceMemoryMB: functionInstanceMemoryMB
    maximumInstanceCount: functionMaximumInstanceCount
    nodeVersion: '24'
    subnetId: network.outputs.functionsSubnetId
    appSettings: union(platformSettings, bindingSettings, appSettings)
  }
}

// Outputs become azd environment values: the hooks, docs/deploy.md and the aks/ overlays read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'
output AZURE_FUNCTION_IDENTITY_CLIENT_ID string = appIdentity.outputs.clientId
output AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID string = appIdentity.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint
output AZURE_EVENTGRID_SYSTEM_TOPIC_NAME string = eventGrid.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
// The name of a Key Vault secret, not its value (the linter goes by the word "secret").
#disable-next-line outputs-should-not-contain-secrets
output AZURE_SENDER_HASH_KEY_SECRET_NAME string = senderHashKeySecretName
// The name of a Key Vault secret, not its value (the linter goes by the word "secret").
#disable-next-line outputs-should-not-contain-secrets
output AZURE_GATEWAY_KEY_SECRET_NAME string = gatewayKeySecretName
output AZURE_REDIS_HOST string = redis.outputs.hostName
output AZURE_AKS_CLUSTER_NAME string = aks.outputs.clusterName
output AZURE_AKS_OIDC_ISSUER_URL string = aks.outputs.oidcIssuerUrl
output AZURE_AKS_API_SERVER_URL string = 'https://${aks.outputs.apiServerFqdn}'
output AZURE_CONTAINER_REGISTRY_NAME string = aks.outputs.registryName
output AZURE_CONTAINER_REGISTRY_ENDPOINT string = aks.outputs.registryLoginServer
output AZURE_KSERVE_NAMESPACE string = kserveNamespace
output AZURE_KSERVE_SERVICE_ACCOUNT string = kserveServiceAccount
output AZURE_KSERVE_IDENTITY_CLIENT_ID string = aks.outputs.kserveIdentityClientId
output AZURE_KSERVE_STORAGE_URI string = '${storage.outputs.blobEndpoint}${dataContainers[0]}/'
output AZURE_KSERVE_INGRESS_PRIVATE_IP string = network.outputs.ingressPrivateIp
output AZURE_FUNCTIONS_SUBNET_PREFIX string = network.outputs.functionsSubnetPrefix
output AZURE_FUNCTION_OUTBOUND_IP string = network.outputs.natPublicIp
output AZURE_TRAINER_NAMESPACE string = trainerNamespace
output AZURE_TRAINER_SERVICE_ACCOUNT string = trainerServiceAccount
output AZURE_TRAINER_IDENTITY_CLIENT_ID string = aks.outputs.trainerIdentityClientId
output KSERVE_PRODUCTION_HOST string = kserveProductionHost
output KSERVE_STAGING_HOST string = kserveStagingHost
