// The private network the Function App and AKS share: the AKS node subnet (which also holds the internal load
// balancer of the Istio ingress gateway, aks/ingress/internal-loadbalancer.yaml), the Function App's VNet
// integration subnet, and a subnet for private endpoints (Azure Managed Redis; Storage and Key Vault when the
// deployment is network-isolated). A private DNS zone gives the per-environment KServe hostnames
// (aks/ingress/gateway.yaml); its A records point at the load balancer's fixed address (output ingressPrivateIp),
// which is the address the aks/ Service requests.
//
// Each subnet has a network security group. Inside the VNet the Function App may open only HTTPS (the KServe
// ingress, the private endpoints, a private AKS API server) and Redis' TLS port; the private endpoints accept only
// those two ports from the Function App and the AKS nodes; the AKS nodes accept from the Function App only HTTPS.
// Nothing on the Internet reaches the nodes: the default rules deny it, and a subnet NSG is evaluated besides the
// one AKS manages, so even a public LoadBalancer Service created in the cluster (for example the default one of an
// Istio install) stays unreachable.

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
// Ports the Function App opens inside the VNet: HTTPS (KServe ingress, private endpoints, AKS API) and Redis TLS.
var vnetServicePorts = ['443', '10000']

resource functionsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-functions-${vnetName}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-vnet-services-out'
        properties: {
          description: 'The KServe ingress, the private endpoints and a private AKS API server (443), Redis (10000).'
          priority: 100
          direction: 'Outbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: functionsSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRanges: vnetServicePorts
        }
      }
      {
        name: 'deny-vnet-out'
        properties: {
          description: 'No other port of anything in the VNet (node SSH, kubelet, NodePorts). Internet egress (NAT) is not affected.'
          priority: 4000
          direction: 'Outbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: '*'
          sourcePortRange: '*'
          destinationAddressPrefix: 'VirtualNetwork'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource privateEndpointsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-private-endpoints-${vnetName}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-app-and-aks-in'
        properties: {
          description: 'Storage, Key Vault (443) and Redis (10000) for the Function App and the AKS nodes (pod traffic leaves a node with its address).'
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefixes: [functionsSubnetPrefix, aksNodesSubnetPrefix]
          sourcePortRange: '*'
          destinationAddressPrefix: privateEndpointSubnetPrefix
          destinationPortRanges: vnetServicePorts
        }
      }
      {
        name: 'deny-vnet-in'
        properties: {
          description: 'Nothing else in the VNet (or peered with it) reaches the private endpoints.'
          priority: 4000
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: 'VirtualNetwork'
          sourcePortRange: '*'
          destinationAddressPrefix: '*'
          destinationPortRange: '*'
        }
      }
    ]
  }
}

resource aksNodesNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-aks-nodes-${vnetName}'
  location: location
  tags: tags
  properties: {
    securityRules: [
      {
        name: 'allow-functions-https-in'
        properties: {
          // AKS load-balancing rules use floating IP: packets reach a node addressed to the frontend (x.x.0.250), in this range.
          description: 'The Function App calls KServe through the internal load balancer (and a private API server) on 443.'
          priority: 100
          direction: 'Inbound'
          access: 'Allow'
          protocol: 'Tcp'
          sourceAddressPrefix: functionsSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: aksNodesSubnetPrefix
          destinationPortRange: '443'
        }
      }
      {
        name: 'deny-functions-in'
        properties: {
          description: 'No other port of the nodes from the Function App subnet.'
          priority: 110
          direction: 'Inbound'
          access: 'Deny'
          protocol: '*'
          sourceAddressPrefix: functionsSubnetPrefix
          sourcePortRange: '*'
          destinationAddressPrefix: aksNodesSubnetPrefix
          destinationPortRange: '*'
        }
      }
    ]
  }
}

// Explicit egress for the Function App's integrated subnet (App Insights, Entra ID, a public AKS API server, and
// Key Vault and Storage when they are not behind private endpoints), rather than relying on default outbound
// access, which new subnets no longer get. Its fixed address is what the AKS API server's authorized ranges admit.
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
          networkSecurityGroup: {
            id: functionsNsg.id
          }
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
          networkSecurityGroup: {
            id: privateEndpointsNsg.id
          }
          // Private endpoints ignore the subnet's NSG unless this says otherwise.
          privateEndpointNetworkPolicies: 'NetworkSecurityGroupEnabled'
        }
      }
      {
        name: 'snet-aks-nodes'
        properties: {
          addressPrefix: aksNodesSubnetPrefix
          networkSecurityGroup: {
            id: aksNodesNsg.id
          }
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
// The address range the Function App's VNet traffic comes from: the only source aks/ingress/authorization-policy.yaml
// lets call the InferenceServices.
output functionsSubnetPrefix string = functionsSubnetPrefix
// The Function App's Internet egress address (NAT gateway): what the AKS API server's authorized ranges must hold.
output natPublicIp string = natIp.properties.ipAddress
output kserveDnsZoneName string = kserveZone.name
output ingressPrivateIp string = ingressPrivateIp
