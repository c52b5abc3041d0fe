// The private network the Function App and AKS share: the AKS node subnet (which also holds the internal load
// balancer of the Istio ingress gateway, aks/ingress/internal-loadbalancer.yaml), the Function App's VNet
// integration subnet, and a subnet for private endpoints (Azure Managed Redis). A private DNS zone gives the
// per-environment KServe hostnames (aks/ingress/gateway.yaml); its A records point at the load balancer's fixed
// address (output ingressPrivateIp), which is the address the aks/ Service requests.

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

// Subnet layout inside the /16 (10.10.0.0/16 by default): AKS nodes x.x.0.0/20, functions x.x.16.0/24, private
// endpoints x.x.17.0/24. Pods use the overlay network, so the node subnet only holds nodes and the load balancer.
var aksNodesSubnetPrefix = cidrSubnet(addressPrefix, 20, 0)
var functionsSubnetPrefix = cidrSubnet(addressPrefix, 24, 16)
var privateEndpointSubnetPrefix = cidrSubnet(addressPrefix, 24, 17)
// cidrHost counts from the first usable address: index 249 is x.x.0.250, far above the addresses nodes take.
var ingressPrivateIp = cidrHost(aksNodesSubnetPrefix, 249)

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
output functionsSubnetId string = '${vnet.id}/subnets/snet-functions'
output privateEndpointSubnetId string = '${vnet.id}/subnets/snet-private-endpoints'
output aksNodesSubnetId string = '${vnet.id}/subnets/snet-aks-nodes'
output kserveDnsZoneName string = kserveZone.name
output ingressPrivateIp string = ingressPrivateIp
