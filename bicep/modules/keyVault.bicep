// Key Vault for the app's secrets (settings marked `secret` in shared/platform/config.ts). The app reads them through Key
// Vault references resolved with its user-assigned identity; no secret value passes through the Bicep. The
// postprovision hook creates secrets that the app generates (the sender-hash key) when they are missing.
//
// Network-isolated (the production default): the vault's public endpoint admits only operatorIpRanges (the azd
// hooks write secrets from the deployer's machine) and no trusted-service bypass (nothing here needs one); the
// Function App resolves its Key Vault references through a private endpoint in the VNet.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Key Vault name (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Deny public traffic except operatorIpRanges, and add a private endpoint in the VNet.')
param networkIsolation bool

@description('Public IPv4 addresses or CIDRs allowed through the firewall when networkIsolation is on.')
param operatorIpRanges string[]

@description('Subnet of the private endpoint.')
param privateEndpointSubnetId string

@description('VNet to link the privatelink DNS zone to.')
param vnetId string

var firewallIpRules = [for cidr in operatorIpRanges: { value: cidr }]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: true
    // Enabled so that the firewall below decides; with networkIsolation it admits only the operators' addresses.
    publicNetworkAccess: 'Enabled'
    networkAcls: networkIsolation ? {
      defaultAction: 'Deny'
      bypass: 'None'
      ipRules: firewallIpRules
    } : {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

module endpoint 'privateEndpoint.bicep' = if (networkIsolation) {
  name: 'pe-keyvault'
  params: {
    location: location
    tags: tags
    name: 'pe-${name}'
    serviceId: vault.id
    groupId: 'vault'
    dnsZoneName: 'privatelink.vaultcore.azure.net'
    dnsLinkName: 'keyvault-link'
    subnetId: privateEndpointSubnetId
    vnetId: vnetId
  }
}

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
