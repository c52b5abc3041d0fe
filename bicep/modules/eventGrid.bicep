// The Event Grid system topic on the storage account. Blob-triggered functions use `source: 'EventGrid'` (the only
// blob trigger source Flex Consumption supports); their subscriptions point at the function's webhook with the
// blobs_extension system key, which exists only after the code is deployed, so bicep/hooks/postdeploy.sh makes them.

@description('Azure region (the storage account\'s).')
param location string

@description('Tags for every resource.')
param tags object

@description('System topic name.')
param name string

@description('Resource ID of the storage account whose events the topic publishes.')
param storageAccountId string

resource topic 'Microsoft.EventGrid/systemTopics@2025-02-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    source: storageAccountId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output name string = topic.name
