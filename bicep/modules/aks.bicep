// AKS for KServe: workload identity and the OIDC issuer (the KServe storage initializer reads models/ with a
// federated credential instead of a key), Entra-integrated Kubernetes authorization, the metrics server (always on
// in AKS; the KServe HPAs scale on CPU through it), a system pool and a separate autoscaled pool for the model
// replicas, Azure CNI overlay in the shared VNet, and ACR with AcrPull for the kubelet identity. Two workload
// identities: KServe's (reads models/) and the training job's (writes models/ and baselines/); rbac.bicep gives
// them their Blob roles. The API server is either private (a private endpoint in the node subnet) or public with
// authorized IP ranges (the Function App's NAT address and the operators' ranges, from main.bicep).
import { roleIds } from 'roles.bicep'

@description('Azure region.')
param location string

@description('Tags for every resource.')
param tags object

@description('Cluster name.')
param clusterName string

@description('Container registry name (5-50 letters and digits).')
param registryName string

@description('Kubernetes version; empty for the region default.')
param kubernetesVersion string

@description('Subnet of the node pools.')
param nodesSubnetId string

@description('VNet ID: the cluster identity needs Network Contributor on it to place the internal load balancer.')
param vnetName string

@description('VM size of the system pool.')
param systemNodeVmSize string

@description('VM size of the KServe pool.')
param servingNodeVmSize string

@description('Minimum node count of the KServe pool.')
param servingNodeMinCount int

@description('Maximum node count of the KServe pool: enough for every replica the InferenceServices may scale to.')
param servingNodeMaxCount int

@description('Name of the user-assigned identity KServe pods use to read models/.')
param kserveIdentityName string

@description('Namespace of the KServe InferenceServices (aks/).')
param kserveNamespace string

@description('Service account the InferenceServices run as (aks/); federated with the KServe identity.')
param kserveServiceAccount string

@description('Name of the user-assigned identity the training job uses to publish models and baselines.')
param trainerIdentityName string

@description('Namespace of the training job (aks/training/).')
param trainerNamespace string

@description('Service account of the training job (aks/training/); federated with the trainer identity.')
param trainerServiceAccount string

@description('Principal that applies aks/ (gets AKS RBAC Cluster Admin); empty to skip.')
param adminPrincipalId string

@description('Type of adminPrincipalId.')
param adminPrincipalType string

@description('Log Analytics workspace for Container Insights.')
param logAnalyticsWorkspaceId string

@description('Private API server: reachable only from the VNet (and peered networks); authorizedIpRanges is then ignored. Cannot be changed on an existing cluster.')
param privateCluster bool

@description('CIDRs the public API server answers (the cluster\'s own egress is added by AKS); empty for no restriction.')
param authorizedIpRanges string[]

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' existing = {
  name: vnetName
}

resource cluster 'Microsoft.ContainerService/managedClusters@2025-05-01' = {
  name: clusterName
  location: location
  tags: tags
  identity: {
    type: 'SystemAssigned'
  }
  sku: {
    name: 'Base'
    tier: 'Standard'
  }
  properties: {
    kubernetesVersion: empty(kubernetesVersion) ? null : kubernetesVersion
    dnsPrefix: clusterName
    enableRBAC: true
    disableLocalAccounts: true
    aadProfile: {
      managed: true
      enableAzureRBAC: true
      tenantID: subscription().tenantId
    }
    oidcIssuerProfile: {
      enabled: true
    }
    securityProfile: {
      workloadIdentity: {
        enabled: true
      }
    }
    networkProfile: {
      networkPlugin: 'azure'
      networkPluginMode: 'overlay'
      podCidr: '192.168.0.0/16'
      serviceCidr: '172.16.0.0/16'
      dnsServiceIP: '172.16.0.10'
      loadBalancerSku: 'standard'
      outboundType: 'loadBalancer'
    }
    apiServerAccessProfile: {
      enablePrivateCluster: privateCluster
      authorizedIPRanges: privateCluster ? null : authorizedIpRanges
    }
    autoUpgradeProfile: {
      upgradeChannel: 'patch'
      nodeOSUpgradeChannel: 'NodeImage'
    }
    addonProfiles: {
      omsagent: {
        enabled: true
        config: {
          logAnalyticsWorkspaceResourceID: logAnalyticsWorkspaceId
          useAADAuth: 'true'
        }
      }
    }
    agentPoolProfiles: [
      {
        name: 'system'
        mode: 'System'
        osType: 'Linux'
        vmSize: systemNodeVmSize
        count: 2
        vnetSubnetID: nodesSubnetId
        type: 'VirtualMachineScaleSets'
        // Keep application pods (KServe replicas) off the system pool.
        nodeTaints: ['CriticalAddonsOnly=true:NoSchedule']
      }
      {
        name: 'kserve'
        mode: 'User'
        osType: 'Linux'
        vmSize: servingNodeVmSize
        count: servingNodeMinCount
        minCount: servingNodeMinCount
        maxCount: servingNodeMaxCount
        enableAutoScaling: true
        vnetSubnetID: nodesSubnetId
        type: 'VirtualMachineScaleSets'
        nodeLabels: {
          workload: 'kserve'
        }
      }
    ]
  }
}

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' = {
  name: registryName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  // Anonymous pull is off by default; the property that says so explicitly does not exist in this API version.
  properties: {
    adminUserEnabled: false
  }
}

resource kubeletAcrPull 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: registry
  name: guid(registry.id, cluster.id, roleIds.acrPull)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.acrPull)
    principalId: cluster.properties.identityProfile.kubeletidentity.objectId
    principalType: 'ServicePrincipal'
  }
}

// The cloud provider creates the internal load balancer's frontend in the ingress subnet with the cluster identity.
resource clusterNetworkContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  scope: vnet
  name: guid(vnet.id, cluster.id, roleIds.networkContributor)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.networkContributor)
    principalId: cluster.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource adminClusterAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(adminPrincipalId)) {
  scope: cluster
  name: guid(cluster.id, adminPrincipalId, roleIds.aksRbacClusterAdmin)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.aksRbacClusterAdmin)
    principalId: adminPrincipalId
    principalType: adminPrincipalType
  }
}

resource kserveIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: kserveIdentityName
  location: location
  tags: tags
}

resource kserveFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: kserveIdentity
  name: 'aks-${kserveNamespace}-${kserveServiceAccount}'
  properties: {
    issuer: cluster.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${kserveNamespace}:${kserveServiceAccount}'
    audiences: ['api://AzureADTokenExchange']
  }
}

resource trainerIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: trainerIdentityName
  location: location
  tags: tags
}

resource trainerFederation 'Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials@2023-01-31' = {
  parent: trainerIdentity
  name: 'aks-${trainerNamespace}-${trainerServiceAccount}'
  properties: {
    issuer: cluster.properties.oidcIssuerProfile.issuerURL
    subject: 'system:serviceaccount:${trainerNamespace}:${trainerServiceAccount}'
    audiences: ['api://AzureADTokenExchange']
  }
}

// The API server's CA, for the Function App's Kubernetes client (AKS_CA_DATA): the cluster user kubeconfig
// carries it as certificate-authority-data (with Entra integration this kubeconfig holds no credential).
var userKubeconfig = base64ToString(cluster.listClusterUserCredential().kubeconfigs[0].value)
var apiServerCaData = trim(split(split(userKubeconfig, 'certificate-authority-data:')[1], '\n')[0])

output clusterName string = cluster.name
output clusterId string = cluster.id
output oidcIssuerUrl string = cluster.properties.oidcIssuerProfile.issuerURL
// A private cluster's API server is reached by its private name (resolved by the zone AKS links to the VNet).
output apiServerFqdn string = privateCluster ? cluster.properties.privateFQDN : cluster.properties.fqdn
output registryName string = registry.name
output registryLoginServer string = registry.properties.loginServer
output kserveIdentityClientId string = kserveIdentity.properties.clientId
output kserveIdentityPrincipalId string = kserveIdentity.properties.principalId
output trainerIdentityClientId string = trainerIdentity.properties.clientId
output trainerIdentityPrincipalId string = trainerIdentity.properties.principalId
// A CA certificate is public; the linter flags every value that comes from a list*() call.
#disable-next-line outputs-should-not-contain-secrets
output apiServerCaData string = apiServerCaData
