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

resource dnsZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: 'privatelink.redis.azure.net'
  location: 'global'
  tags: tags
}

resource dnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: dnsZone
  name: 'redis-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnetId
    }
  }
}

resource endpoint 'Microsoft.Network/privateEndpoints@2024-05-01' = {
  name: 'pe-${name}'
  location: location
  tags: tags
  properties: {
    subnet: {
      id: privateEndpointSubnetId
    }
    privateLinkServiceConnections: [
      {
        name: 'redis'
        properties: {
          privateLinkServiceId: cluster.id
          groupIds: ['redisEnterprise']
        }
      }
    ]
  }
}

resource endpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = {
  parent: endpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'redis'
        properties: {
          privateDnsZoneId: dnsZone.id
        }
      }
    ]
  }
}

output hostName string = cluster.properties.hostName
output port int = database.properties.port
