// The KServe client (shared/lifecycle/kubernetes/) against a local HTTP server that implements the Kubernetes API endpoints
// it uses, with the JSON shapes recorded from the Kubernetes and KServe documentation (test/helpers/fakeKubeApi.ts):
// no cluster runs here. The client is the real @kubernetes/client-node making real HTTP requests.
import type { AccessToken, TokenCredential } from '@azure/identity';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { getConfig, loadConfig } from '../../../../shared/platform/config';
import { ConflictError, NotFoundError } from '../../../../shared/platform/errors';
import {
  ANNOTATIONS,
  InferenceServiceClient,
  InferenceServiceNotReadyError,
} from '../../../../shared/lifecycle/kubernetes/inferenceService';
import { aksKubeConfig, kubeConfigSource, resolveConnection } from '../../../../shared/lifecycle/kubernetes/kubeConfig';
import { setAppEnv } from '../../../helpers/env';
import { FakeKubeApi, fakeKubeconfigYaml, startFakeKubeApi } from '../../../helpers/fakeKubeApi';

const NS = 'kserve';
const OLD = 'https://acct.blob.core.windows.net/models/spam-detector/1.0.0/triton/';
const NEW = 'https://acct.blob.core.windows.net/models/spam-detector/1.1.0/triton/';

let kube: FakeKubeApi;
let restoreEnv: () => void;
let dir: string;
let client: InferenceServiceClient;

beforeEach(async () => {
  kube = await startFakeKubeApi();
  kube.addInferenceService({
    name: 'spam-detector-staging',
    namespace: NS,
    storageUri: OLD,
    annotations: { [ANNOTATIONS.modelVersion]: '1.0.0' },
  });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kubeconfig-'));
  fs.writeFileSync(path.join(dir, 'config'), fakeKubeconfigYaml(kube.url, kube.caData, 'file-token'));
  restoreEnv = setAppEnv({ KUBE_CONNECTION: 'kubeconfig', KUBECONFIG: path.join(dir, 'config'), KUBE_CONTEXT: undefined });
  client = new InferenceServiceClient(kubeConfigSource(getConfig()), NS);
});

afterEach(async () => {
  restoreEnv();
  await kube.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('reads Ready, URL and the served storageUri through a kubeconfig file', async () => {
  const s = await client.getStatus('spam-detector-staging');
  expect(s).toMatchObject({
    ready: true,
    reconciled: true,
    url: 'http://spam-detector-staging-kserve.example.com',
    storageUri: OLD,
    modelVersion: '1.0.0',
  });
  expect(kube.requests[0]).toMatchObject({
    method: 'GET',
    path: '/apis/serving.kserve.io/v1beta1/namespaces/kserve/inferenceservices/spam-detector-staging',
    authorization: 'Bearer file-token',
  });
});

test('deploy patches storageUri with a merge patch, keeps the previous version, and waits for the new generation', async () => {
  kube.readyAfterMs = 150;
  const result = await client.deploy('spam-detector-staging', { storageUri: NEW, modelVersion: '1.1.0' });
  expect(result).toMatchObject({ changed: true, previousStorageUri: OLD, previousModelVersion: '1.0.0' });
  const patch = kube.requests.find((r) => r.method === 'PATCH');
  expect(patch?.contentType).toBe('application/merge-patch+json');
  // Right after the patch the controller has not finished: the old Ready=True must not count.
  const early = await client.getStatus('spam-detector-staging');
  expect(early.ready).toBe(false);
  const ready = await client.waitReady('spam-detector-staging', { timeoutMs: 5000, pollMs: 20 });
  expect(ready).toMatchObject({
    ready: true,
    storageUri: NEW,
    modelVersion: '1.1.0',
    previousStorageUri: OLD,
    previousModelVersion: '1.0.0',
    generation: 2,
    observedGeneration: 2,
  });
  expect(kube.get(NS, 'spam-detector-staging')!.spec.predictor.minReplicas).toBe(1); // the rest of the spec is untouched
});

test('deploy of the version already served patches nothing', async () => {
  const result = await client.deploy('spam-detector-staging', { storageUri: OLD, modelVersion: '1.0.0' });
  expect(result.changed).toBe(false);
  expect(kube.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);
});

test('rollback restores the annotated previous version and clears the annotations; onlyIf protects a newer change', async () => {
  await client.deploy('spam-detector-staging', { storageUri: NEW, modelVersion: '1.1.0' });
  const skipped = await client.rollback('spam-detector-staging', { storageUri: 'https://elsewhere/triton/' });
  expect(skipped.changed).toBe(false);
  expect(skipped.skipped).toMatch(/serves .*1\.1\.0/);
  const rolled = await client.rollback('spam-detector-staging', { storageUri: NEW });
  expect(rolled.changed).toBe(true);
  const s = await client.waitReady('spam-detector-staging', { timeoutMs: 5000, pollMs: 20 });
  expect(s).toMatchObject({ storageUri: OLD, modelVersion: '1.0.0', ready: true, generation: 3 });
  expect(s.previousStorageUri).toBeUndefined();
  const again = await client.rollback('spam-detector-staging');
  expect(again).toMatchObject({ changed: false, skipped: 'no previous version recorded' });
});

test('a concurrent writer makes the precondition fail with 409; deploy re-reads and succeeds', async () => {
  let writes = 0;
  kube.onPatch = (obj) => {
    if (writes++ > 0) return false;
    obj.metadata.annotations['someone-else'] = 'was here';
    return true;
  };
  const result = await client.deploy('spam-detector-staging', { storageUri: NEW, modelVersion: '1.1.0' });
  expect(result.changed).toBe(true);
  expect(kube.requests.filter((r) => r.method === 'PATCH')).toHaveLength(2);
  expect(kube.get(NS, 'spam-detector-staging')!.metadata.annotations['someone-else']).toBe('was here');
  kube.onPatch = (obj) => {
    obj.metadata.annotations['always'] = 'conflicting';
    return true;
  };
  await expect(client.deploy('spam-detector-staging', { storageUri: OLD, modelVersion: '1.0.0' })).rejects.toBeInstanceOf(ConflictError);
});

test('a missing InferenceService is a NotFoundError carrying the API message', async () => {
  const err = await client.getStatus('nope').catch((e) => e);
  expect(err).toBeInstanceOf(NotFoundError);
  expect(err.message).toContain('inferenceservices.serving.kserve.io "nope" not found');
});

test('waitReady fails fast on a failed rollout and times out on a slow one', async () => {
  kube.brokenStorageUris.add(NEW);
  await client.deploy('spam-detector-staging', { storageUri: NEW, modelVersion: '1.1.0' });
  const failed = await client.waitReady('spam-detector-staging', { timeoutMs: 10000, pollMs: 20 }).catch((e) => e);
  expect(failed).toBeInstanceOf(InferenceServiceNotReadyError);
  expect(failed.message).toMatch(/ModelLoadFailed/);

  kube.readyAfterMs = 60000;
  await client.rollback('spam-detector-staging');
  const slow = await client.waitReady('spam-detector-staging', { timeoutMs: 300, pollMs: 50 }).catch((e) => e);
  expect(slow).toBeInstanceOf(InferenceServiceNotReadyError);
  expect(slow.message).toMatch(/not Ready after/);
});

test('AKS mode sends the Entra token as a bearer token and renews it before it expires', async () => {
  kube.requiredToken = 'entra-1';
  const scopes: string[] = [];
  let n = 0;
  const credential: TokenCredential = {
    getToken(scope): Promise<AccessToken> {
      scopes.push(String(scope));
      n++;
      // The first token is about to expire, so the next call must fetch a new one.
      return Promise.resolve({ token: `entra-${n}`, expiresOnTimestamp: Date.now() + (n === 1 ? 60_000 : 3_600_000) });
    },
  };
  const config = loadConfig({ AKS_SERVER_URL: kube.url, AKS_CA_DATA: kube.caData });
  const aks = new InferenceServiceClient(aksKubeConfig(config, credential), NS);
  expect((await aks.getStatus('spam-detector-staging')).ready).toBe(true);
  kube.requiredToken = 'entra-2';
  expect((await aks.getStatus('spam-detector-staging')).ready).toBe(true);
  expect(scopes).toEqual(['6dae42f8-4368-4678-94ff-3960e28e3630/.default', '6dae42f8-4368-4678-94ff-3960e28e3630/.default']);
  kube.requiredToken = 'something-else';
  await expect(aks.getStatus('spam-detector-staging')).rejects.toThrow(/401|Unauthorized/);
});

test('auto picks in-cluster inside a pod and the kubeconfig file elsewhere', () => {
  const config = loadConfig({});
  expect(resolveConnection(config, { KUBERNETES_SERVICE_HOST: '10.0.0.1' })).toBe('in-cluster');
  expect(resolveConnection(config, {})).toBe('kubeconfig');
  expect(() => loadConfig({ KUBE_CONNECTION: 'ssh' })).toThrow(/KUBE_CONNECTION.*one of auto, in-cluster, kubeconfig, aks/);
  expect(() => kubeConfigSource(loadConfig({ KUBE_CONNECTION: 'aks' }))).toThrow(/AKS_SERVER_URL/);
});

test('a missing kubeconfig file is a clear configuration error, not a call to localhost:8080', async () => {
  const home = process.env.HOME;
  process.env.HOME = dir; // no .kube/config there
  try {
    const source = kubeConfigSource(loadConfig({ KUBE_CONNECTION: 'kubeconfig' }));
    await expect(source.get()).rejects.toThrow(/KUBECONFIG.*there is none at .*\.kube\/config/);
  } finally {
    process.env.HOME = home;
  }
});
