// One private endpoint of a PaaS resource in the VNet, with the privatelink DNS zone that makes the resource's public
// host name resolve to the endpoint's address from inside the VNet (the Function App through its VNet integration,
// AKS pods through the VNet's DNS). Names are parameters so that an endpoint made before this module existed keeps
// its name: a zone can be linked to a VNet only once, so a renamed link would fail to deploy.

@description('Azure region of the endpoint.')
param location string

@description('Tags for every resource.')
param tags object

@description('Name of the private endpoint.')
param name string

@description('Resource ID of the resource the endpoint connects to.')
param serviceId string

@description('Sub-resource (group ID) of the connection, e.g. blob, queue, table, vault, redisEnterprise.')
param groupId string

@description('Name of the private link connection and of the zone configuration.')
param connectionName string = groupId

@description('privatelink DNS zone of the sub-resource, e.g. privatelink.blob.core.windows.net.')
param dnsZoneName string

@description('Name of the zone\'s link to the VNet.')
param dnsLinkName string

@description('Subnet of the endpoint.')
param subnetId string

@description('VNet whose DNS resolves the zone.')
param vnetId string

resource zone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: dnsZoneName
  location: 'global'
  tags: tags
}

resource link 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: zone
  name: dnsLinkName
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
  name: name
  location: location
  tags: tags
  properties: {
    subnet: {
      id: subnetId
    }
    privateLinkServiceConnections: [
      {
        name: connectionName
        properties: {
          privateLinkServiceId: serviceId
          groupIds: [groupId]
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
        name: connectionName
        properties: {
          privateDnsZoneId: zone.id
        }
      }
    ]
  }
}
