// The private network the Function App and AKS share: the Function App's VNet integration subnet, the AKS node
// subnet, a subnet for the internal load balancer in front of the KServe ingress, and one for private endpoints
// (Azure Managed Redis). A private DNS zone gives the per-environment KServe hostnames; its A records point at
// the internal load balancer's fixed address (output ingressPrivateIp), which the aks/ ingress Service requests.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Name of the virtual network.')
param vnetName string

@description('Address space of the virtual network.')
param addressPrefix string

@description('Private DNS zone that holds the KServe hostnames (for example kserve.internal).')
param kserveDnsZoneName string

@description('Host labels (relative to the zone) that resolve to the ingress, one per model environment.')
param kserveHostLabels array

// Subnet layout inside the /16: functions .0.0/24, private endpoints .2.0/24, ingress .3.0/24, AKS nodes .16.0/20.
var functionsSubnetPrefix = cidrSubnet(addressPrefix, 24, 0)
var privateEndpointSubnetPrefix = cidrSubnet(addressPrefix, 24, 2)
var ingressSubnetPrefix = cidrSubnet(addressPrefix, 24, 3)
var aksNodesSubnetPrefix = cidrSubnet(addressPrefix, 20, 1)
// cidrHost counts from the first usable address, so index 9 is .10 (Azure keeps .1-.3 of every subnet).
var ingressPrivateIp = cidrHost(ingressSubnetPrefix, 9)

// Explicit egress for the Function App's integrated subnet (App Insights, Key Vault, Storage and the AKS API are
// reached on public endpoints), rather than relying on default outbound access, which new subnets no longer get.
resource natIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-nat-${vnetName}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'nat-${vnetName}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIpAddresses: [
      {
        id: natIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [addressPrefix]
    }
    subnets: [
      {
        name: 'snet-functions'
        properties: {
          addressPrefix: functionsSubnetPrefix
          natGateway: {
            id: nat.id
          }
          // Flex Consumption VNet integration requires this delegation.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
      {
        name: 'snet-private-endpoints'
        properties: {
          addressPrefix: privateEndpointSubnetPrefix
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
      {
        name: 'snet-ingress'
        properties: {
          addressPrefix: ingressSubnetPrefix
        }
      }
      {
        name: 'snet-aks-nodes'
        properties: {
          addressPrefix: aksNodesSubnetPrefix
        }
      }
    ]
  }
}

resource kserveZone 'Microsoft.Network/privateDnsZones@2024-06-01' = {
  name: kserveDnsZoneName
  location: 'global'
  tags: tags
}

resource kserveZoneLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = {
  parent: kserveZone
  name: '${vnetName}-link'
  location: 'global'
  tags: tags
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource kserveHosts 'Microsoft.Network/privateDnsZones/A@2024-06-01' = [
  for label in kserveHostLabels: {
    parent: kserveZone
    name: label
    properties: {
      ttl: 300
      aRecords: [
        {
          ipv4Address: ingressPrivateIp
        }
      ]
    }
  }
]

output vnetId string = vnet.id
output vnetName string = vnet.name
output functionsSubnetId string = vnet.properties.subnets[0].id
output privateEndpointSubnetId string = vnet.properties.subnets[1].id
output ingressSubnetName string = vnet.properties.subnets[2].name
output aksNodesSubnetId string = vnet.properties.subnets[3].id
output kserveDnsZoneName string = kserveZone.name
output ingressPrivateIp string = ingressPrivateIp
