// The Function App on Flex Consumption: Node 24, identity-based deployment storage, instance memory and maximum
// instance count as parameters, VNet integration (KServe's internal load balancer and Redis' private endpoint are
// only reachable from inside the VNet), and the app settings main.bicep builds from shared/platform/config.ts' settingSpecs.

@description('Azure region.')
param location string

@description('Tags for every resource; the site also gets azd-service-name so that `azd deploy` finds it.')
param tags object

@description('Function App name.')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('azd service name in azure.yaml.')
param azdServiceName string

@description('Resource ID of the user-assigned identity the app runs as.')
param identityId string

@description('Blob endpoint of the storage account that holds the deployment package.')
param storageBlobEndpoint string

@description('Container of the deployment package.')
param deploymentContainerName string

@description('Instance memory (MB).')
@allowed([512, 2048, 4096])
param instanceMemoryMB int

@description('Maximum instance count.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Node.js version of the Flex Consumption runtime.')
param nodeVersion string

@description('Subnet (delegated to Microsoft.App/environments) for VNet integration.')
param subnetId string

@description('App settings, complete: the platform\'s and the app\'s.')
param appSettings object

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': azdServiceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (secret settings) resolve with the same identity.
    keyVaultReferenceIdentity: identityId
    virtualNetworkSubnetId: subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
