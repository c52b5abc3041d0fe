// The Function App's storage account: the host's own state (AzureWebJobsStorage: leases, timers, Durable Functions
// queues and tables), the app's data containers (shared/platform/blobLayout.ts) and the Flex Consumption deployment package.
// Identity-only: shared-key access is off, so every client (host, app, KServe, azd, the deployer) uses Entra ID.

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
    // Public endpoint with Entra-only auth: Event Grid, azd and the deployer reach it from outside the VNet.
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

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
