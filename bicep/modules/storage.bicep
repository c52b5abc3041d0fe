// The Function App's storage account: the host's own state (AzureWebJobsStorage: leases, timers, Durable Functions
// queues and tables), the app's data containers (shared/platform/blobLayout.ts) and the Flex Consumption deployment package.
// Identity-only: shared-key access is off, so every client (host, app, KServe, azd, the deployer) uses Entra ID.
//
// Network-isolated (the production default): the public endpoint admits only operatorIpRanges (model uploads,
// drift reports, the held-out set) and no trusted-service bypass; the Function App (host state, Durable Functions,
// its data, the Flex Consumption package) and the AKS pods (KServe's storage initializer, the training job) use
// private endpoints for blob, queue and table in the VNet. Event Grid's system topic is fed by the storage service
// itself, not through this firewall.

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Storage account name (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Containers to create: the app data containers and the deployment package container.')
param containerNames array

@description('Container of the drift reports and drift state: the scratch counts of drift runs that never finished are deleted after a week.')
param driftReportsContainerName string

@description('Container of user feedback (it holds the reported messages): its blobs are deleted after feedbackRetentionDays.')
param feedbackContainerName string

@description('Days a feedback blob is kept after it was last written.')
@minValue(1)
param feedbackRetentionDays int

@description('Deny public traffic except operatorIpRanges, and add private endpoints in the VNet.')
param networkIsolation bool

@description('Public IPv4 addresses or CIDRs (not /31 or /32: a single address goes without a prefix) allowed through the firewall when networkIsolation is on.')
param operatorIpRanges string[]

@description('Subnet of the private endpoints.')
param privateEndpointSubnetId string

@description('VNet to link the privatelink DNS zones to.')
param vnetId string

// What the Functions host and Durable Functions use: blobs (leases, the package, the app's data), queues and tables.
var endpointServices = ['blob', 'queue', 'table']

var firewallIpRules = [for cidr in operatorIpRanges: { value: cidr }]

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
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

module endpoints 'privateEndpoint.bicep' = [
  for service in endpointServices: if (networkIsolation) {
    name: 'pe-storage-${service}'
    params: {
      location: location
      tags: tags
      name: 'pe-${name}-${service}'
      serviceId: account.id
      groupId: service
      dnsZoneName: 'privatelink.${service}.${environment().suffixes.storage}'
      dnsLinkName: 'storage-${service}-link'
      subnetId: privateEndpointSubnetId
      vnetId: vnetId
    }
  }
]

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [
  for containerName in containerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

// Feedback holds message text: it is kept only as long as retraining needs it. Blobs are written once; only an erase
// rewrites one (without the erased records), which restarts the clock of the records left in it (docs/feedback.md).
resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2024-01-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          enabled: true
          name: 'delete-feedback-after-retention'
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${feedbackContainerName}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: feedbackRetentionDays
                }
              }
            }
          }
        }
        {
          // A drift run deletes its partial counts once its report is stored; a run that failed leaves them behind.
          enabled: true
          name: 'delete-drift-run-scratch'
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob']
              prefixMatch: ['${driftReportsContainerName}/state/partials/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: 7
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [containers]
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
