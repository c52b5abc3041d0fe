// Azure Managed Redis (Microsoft.Cache/redisEnterprise; Azure Cache for Redis is being retired): the Feast online
// store. Access keys are disabled: clients authenticate with Entra ID tokens (the access policy assignment below
// gives the Function App's identity the "default" data policy). Reached through a private endpoint in the VNet, on
// TLS port 10000. EnterpriseCluster policy keeps one endpoint, so a plain (non-cluster) Redis client works.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Cluster name.')
param name string

@description('Azure Managed Redis SKU (Balanced_B0 ... ; B1 is the smallest with high availability worth paying for).')
param skuName string

@description('Object (principal) IDs of the identities that may read and write the database with Entra tokens.')
param dataAccessPrincipalIds array

@description('Subnet for the private endpoint.')
param privateEndpointSubnetId string

@description('VNet to link the privatelink DNS zone to.')
param vnetId string

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: 'Enabled'
    publicNetworkAccess: 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'NoEviction'
    accessKeysAuthentication: 'Disabled'
  }
}

// One at a time: the service rejects concurrent updates of one database's access policies.
@batchSize(1)
resource accessPolicies 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = [
  for (principalId, i) in dataAccessPrincipalIds: {
    parent: database
    name: 'app${i}'
    properties: {
      accessPolicyName: 'default'
      user: {
        objectId: principalId
      }
    }
  }
]

// The names are those the endpoint had before it moved into the shared module: the deployment leaves it as it is.
module endpoint 'privateEndpoint.bicep' = {
  name: 'pe-redis'
  params: {
    location: location
    tags: tags
    name: 'pe-${name}'
    serviceId: cluster.id
    groupId: 'redisEnterprise'
    connectionName: 'redis'
    dnsZoneName: 'privatelink.redis.azure.net'
    dnsLinkName: 'redis-link'
    subnetId: privateEndpointSubnetId
    vnetId: vnetId
  }
}

output hostName string = cluster.properties.hostName
output port int = database.properties.port
