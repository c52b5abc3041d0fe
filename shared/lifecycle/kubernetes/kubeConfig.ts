// Where the app's Kubernetes credentials come from (KUBE_CONNECTION): the pod's service account in a cluster,
// a kubeconfig file (kubectl's, for a developer or the CLI), or AKS from Azure Functions with an Entra token of
// the app's managed identity — AKS with Entra ID accepts such a bearer token directly (scope of the AKS AAD server
// application), so no kubeconfig or kubelogin is needed in the Function App.
import type { KubeConfig } from '@kubernetes/client-node';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DefaultAzureCredential, type TokenCredential } from '@azure/identity';
import { Config, ConfigError, getConfig } from '../../platform/config';
import { clientNode } from './clientNode';

export type KubeConnection = Config['kubeConnection'];

export interface KubeConfigSource {
  /** A KubeConfig ready for API calls; for AKS rebuilt when its token is about to expire. */
  get(): Promise<KubeConfig>;
  readonly description: string;
}

/** Refresh an Entra token this long before it expires. */
const TOKEN_REFRESH_MARGIN_MS = 5 * 60 * 1000;

export function resolveConnection(config: Config, env: NodeJS.ProcessEnv = process.env): Exclude<KubeConnection, 'auto'> {
  if (config.kubeConnection !== 'auto') return config.kubeConnection;
  return env.KUBERNETES_SERVICE_HOST ? 'in-cluster' : 'kubeconfig';
}

function fromKubeconfigFile(config: Config): KubeConfigSource {
  const { KubeConfig } = clientNode();
  let kc: KubeConfig | undefined;
  return {
    description: `kubeconfig ${config.kubeconfigPath ?? '~/.kube/config'}${config.kubeContext ? ` context ${config.kubeContext}` : ''}`,
    async get() {
      if (!kc) {
        kc = new KubeConfig();
        if (config.kubeconfigPath) {
          // A list like kubectl's ($KUBECONFIG=a:b): the first file's current context wins, the others add to it.
          const [first, ...rest] = config.kubeconfigPath.split(path.delimiter).filter(Boolean);
          kc.loadFromFile(first);
          for (const file of rest) {
            const more = new KubeConfig();
            more.loadFromFile(file);
            kc.mergeConfig(more, true);
          }
        } else {
          // Without a file, loadFromDefault silently falls back to http://localhost:8080; say what is missing instead.
          const defaultFile = path.join(os.homedir(), '.kube', 'config');
          if (!fs.existsSync(defaultFile)) {
            throw new ConfigError(
              'KUBECONFIG',
              '',
              `a kubeconfig file (there is none at ${defaultFile}); or set KUBE_CONNECTION to in-cluster or aks`,
            );
          }
          kc.loadFromFile(defaultFile);
        }
        if (config.kubeContext) kc.setCurrentContext(config.kubeContext);
        if (!kc.getCurrentCluster()) {
          throw new ConfigError('KUBECONFIG', config.kubeconfigPath ?? '', 'a kubeconfig file with a current context');
        }
      }
      return kc;
    },
  };
}

function inCluster(): KubeConfigSource {
  const { KubeConfig } = clientNode();
  let kc: KubeConfig | undefined;
  return {
    description: 'in-cluster service account',
    async get() {
      if (!kc) {
        kc = new KubeConfig();
        kc.loadFromCluster();
      }
      return kc;
    },
  };
}

/** AKS with Entra ID: the API server URL and CA from settings, a bearer token from `credential`. */
export function aksKubeConfig(
  config: Pick<Config, 'aksServerUrl' | 'aksCaData' | 'aksTokenScope'>,
  credential: TokenCredential,
): KubeConfigSource {
  const { KubeConfig } = clientNode();
  const server = config.aksServerUrl;
  if (!server) throw new ConfigError('AKS_SERVER_URL', '', 'the API server URL of the AKS cluster (KUBE_CONNECTION=aks)');
  let cached: { kc: KubeConfig; expiresOn: number } | undefined;
  return {
    description: `AKS ${server} with an Entra token`,
    async get() {
      if (cached && cached.expiresOn - Date.now() > TOKEN_REFRESH_MARGIN_MS) return cached.kc;
      const token = await credential.getToken(config.aksTokenScope);
      if (!token) throw new Error(`No Entra token for ${config.aksTokenScope}`);
      const kc = new KubeConfig();
      kc.loadFromClusterAndUser(
        { name: 'aks', server, caData: config.aksCaData, skipTLSVerify: false },
        { name: 'entra', token: token.token },
      );
      cached = { kc, expiresOn: token.expiresOnTimestamp };
      return kc;
    },
  };
}

export function kubeConfigSource(config: Config = getConfig()): KubeConfigSource {
  switch (resolveConnection(config)) {
    case 'in-cluster':
      return inCluster();
    case 'aks': {
      const credential = new DefaultAzureCredential(config.aksClientId ? { managedIdentityClientId: config.aksClientId } : {});
      return aksKubeConfig(config, credential);
    }
    case 'kubeconfig':
      return fromKubeconfigFile(config);
  }
}
