// Role assignments on the data plane, least privilege:
// - the Function App's identity: Blob Data Owner (host leases and the app's containers), Queue and Table Data
//   Contributor (Durable Functions' task hub, blob-trigger receipts), Monitoring Metrics Publisher (App Insights with
//   local auth off) and Key Vault Secrets User (Key Vault references);
// - the KServe identity: Blob Data Reader on the models container only;
// - the training job's identity: Blob Data Contributor on the models and baselines containers only, Blob Data Reader
//   on the feedback container (retraining reads the reported messages);
// - the deployer (optional): Blob Data Contributor to upload models and baselines, except reading the feedback
//   container (a condition on the assignment), Secrets Officer to seed secrets.
// The feedback container holds message text: besides the trainer, only the Function App identity reads it (its
// container-scoped assignment states that need, which the account-wide Owner role also covers).
import { roleIds } from 'roles.bicep'

@description('Storage account name.')
param storageAccountName string

@description('Container KServe reads model repositories from.')
param modelsContainerName string

@description('Container the training job publishes baselines to.')
param baselinesContainerName string

@description('Container of user feedback (reported messages): readable by the app and the training job only.')
param feedbackContainerName string

@description('Application Insights component name.')
param appInsightsName string

@description('Key Vault name.')
param keyVaultName string

@description('Principal ID of the Function App\'s user-assigned identity.')
param appPrincipalId string

@description('Principal ID of the KServe workload identity.')
param kservePrincipalId string

@description('Principal ID of the training job\'s workload identity.')
param trainerPrincipalId string

@description('Principal that deploys and operates (azd user or CI service principal); empty to skip.')
param deployerPrincipalId string

@description('Type of deployerPrincipalId: User or ServicePrincipal.')
param deployerPrincipalType string

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName

  resource blobService 'blobServices' existing = {
    name: 'default'

    resource models 'containers' existing = {
      name: modelsContainerName
    }

    resource baselines 'containers' existing = {
      name: baselinesContainerName
    }

    resource feedback 'containers' existing = {
      name: feedbackContainerName
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

var appStorageRoles = [
  roleIds.storageBlobDataOwner
  roleIds.storageQueueDataContributor
  roleIds.storageTableDataContributor
]

resource appStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in appStorageRoles: {
    scope: storage
    name: guid(storage.id, appPrincipalId, roleId)
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: appPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appMetrics 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: appInsights
  name: guid(appInsights.id, appPrincipalId, roleIds.monitoringMetricsPublisher)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vault
  name: guid(vault.id, appPrincipalId, roleIds.keyVaultSecretsUser)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource kserveModels 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage::blobService::models
  name: guid(storage::blobService::models.id, kservePrincipalId, roleIds.storageBlobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: kservePrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerModels 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage::blobService::models
  name: guid(storage::blobService::models.id, trainerPrincipalId, roleIds.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerBaselines 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage::blobService::baselines
  name: guid(storage::blobService::baselines.id, trainerPrincipalId, roleIds.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appFeedback 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage::blobService::feedback
  name: guid(storage::blobService::feedback.id, appPrincipalId, roleIds.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource trainerFeedback 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: storage::blobService::feedback
  name: guid(storage::blobService::feedback.id, trainerPrincipalId, roleIds.storageBlobDataReader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataReader)
    principalId: trainerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Every blob action but reading blobs of the feedback container (an ABAC condition, version 2.0).
var notFeedbackReads = '((!(ActionMatches{\'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read\'})) OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringNotEquals \'${feedbackContainerName}\'))'

resource deployerBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: storage
  name: guid(storage.id, deployerPrincipalId, roleIds.storageBlobDataContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
    condition: notFeedbackReads
    conditionVersion: '2.0'
  }
}

resource deployerSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  scope: vault
  name: guid(vault.id, deployerPrincipalId, roleIds.keyVaultSecretsOfficer)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsOfficer)
    principalId: deployerPrincipalId
    principalType: deployerPrincipalType
  }
}
