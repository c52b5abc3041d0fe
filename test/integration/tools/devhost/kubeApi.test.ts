// The local Kubernetes API (tools/devhost/kubeApi.ts) over real loopback HTTPS: its contract as the KServe client and
// the promotion use it, and, with the controller of tools/devhost/kserveController.ts, a patched storageUri loaded
// from Azurite into a local V2 model server.
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { CONTAINERS } from '../../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../../shared/platform/blobStorage';
import { InferenceServiceClient, InferenceServiceNotReadyError } from '../../../../shared/lifecycle/kubernetes/inferenceService';
import { kubeConfigSource } from '../../../../shared/lifecycle/kubernetes/kubeConfig';
import { modelStorageUri, modelsStorageUri } from '../../../../shared/lifecycle/promotion/activities';
import { getConfig } from '../../../../shared/platform/config';
import { committedModelDir, COMMITTED_MODEL_VERSION, MODEL_NAME, publishModel } from '../../../../shared/model/modelArtifacts';
import { getContainerClient } from '../../../../shared/platform/blobStorage';
import { kserveController } from '../../../../tools/devhost/kserveController';
import { kubeconfigYaml, LocalKubeApi, startLocalKubeApi } from '../../../../tools/devhost/kubeApi';
import { ModelServerProcess, startModelServerProcess } from '../../../../tools/devhost/modelServer';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { setAppEnv } from '../../../helpers/env';
import { copyModelAsVersion } from '../../../helpers/gatewayStack';

const NS = 'kserve';
const PATH = `/apis/serving.kserve.io/v1beta1/namespaces/${NS}/inferenceservices/spam-detector-staging`;

function call(api: LocalKubeApi, method: string, body?: unknown, contentType = 'application/merge-patch+json') {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = https.request(
      `${api.url}${PATH}`,
      { method, ca: Buffer.from(api.caData, 'base64'), headers: body !== undefined ? { 'content-type': contentType } : {} },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body !== undefined ? JSON.stringify(body) : undefined);
  });
}

const readyOf = (obj: any) => obj.status.conditions.find((c: { type: string }) => c.type === 'Ready');

describe('the API contract', () => {
  let api: LocalKubeApi;
  beforeEach(async () => {
    api = await startLocalKubeApi();
    api.readyAfterMs = 200;
    api.addInferenceService({ name: 'spam-detector-staging', namespace: NS, storageUri: 'https://a/models/x/1/triton/' });
  });
  afterEach(() => api.close());

  test('GET, merge patch with a resourceVersion precondition, generation and Ready transitions', async () => {
    const got = await call(api, 'GET');
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ kind: 'InferenceService', metadata: { generation: 1 }, status: { observedGeneration: 1 } });
    expect(readyOf(got.body).status).toBe('True');

    const annotated = await call(api, 'PATCH', {
      metadata: { resourceVersion: got.body.metadata.resourceVersion, annotations: { a: 'b' } },
    });
    expect(annotated.status).toBe(200);
    expect(annotated.body.metadata.generation).toBe(1); // metadata only: the spec's generation stays
    expect(annotated.body.metadata.resourceVersion).not.toBe(got.body.metadata.resourceVersion);

    const stale = await call(api, 'PATCH', { metadata: { resourceVersion: got.body.metadata.resourceVersion }, spec: {} });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409 });
    expect((await call(api, 'PATCH', {}, 'application/strategic-merge-patch+json')).status).toBe(415);

    const patched = await call(api, 'PATCH', { spec: { predictor: { model: { storageUri: 'https://a/models/x/2/triton/' } } } });
    expect(patched.body.metadata.generation).toBe(2);
    expect(patched.body.spec.predictor.minReplicas).toBe(1); // merged, not replaced
    const loading = (await call(api, 'GET')).body;
    expect(loading.status.observedGeneration).toBe(2);
    expect(readyOf(loading).status).toBe('Unknown');
    await new Promise((r) => setTimeout(r, 400));
    expect(readyOf((await call(api, 'GET')).body).status).toBe('True');
  });
});

describe('the controller with a local V2 model server', () => {
  const NEW_VERSION = '1.2.0-controller-test';
  let azurite: TestAzurite;
  let restoreEnv: () => void;
  let server: ModelServerProcess;
  let api: LocalKubeApi;
  let client: InferenceServiceClient;
  let newModel: { dir: string; dispose(): void };
  let dir: string;

  const served = async () => ((await (await fetch(`${server.url}/v2/models/${MODEL_NAME}`)).json()) as { versions: string[] }).versions;

  beforeAll(async () => {
    azurite = await startTestAzurite();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kserve-controller-'));
    restoreEnv = setAppEnv({ AzureWebJobsStorage: azurite.connectionString, KUBE_CONNECTION: 'kubeconfig', KUBE_CONTEXT: undefined });
    await ensureContainers([CONTAINERS.models]);
    newModel = copyModelAsVersion(NEW_VERSION);
    await publishModel(newModel.dir, undefined, { version: NEW_VERSION });
    server = await startModelServerProcess({ port: 0, modelDir: committedModelDir(), environment: 'staging' });
    api = await startLocalKubeApi({
      reconcile: kserveController({
        models: getContainerClient(CONTAINERS.models),
        modelsUri: modelsStorageUri(),
        modelName: MODEL_NAME,
        workDir: path.join(dir, 'kserve'),
        predictors: new Map([['spam-detector-staging', server.url]]),
      }),
    });
    api.addInferenceService({
      name: 'spam-detector-staging',
      namespace: NS,
      storageUri: modelStorageUri(MODEL_NAME, COMMITTED_MODEL_VERSION),
    });
    fs.writeFileSync(path.join(dir, 'kubeconfig'), kubeconfigYaml(api.url, api.caData));
    process.env.KUBECONFIG = path.join(dir, 'kubeconfig');
    client = new InferenceServiceClient(kubeConfigSource(getConfig()), NS);
  }, 60000);

  afterAll(async () => {
    await api?.close();
    await server?.stop();
    delete process.env.KUBECONFIG;
    restoreEnv?.();
    newModel?.dispose();
    await azurite?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a patched storageUri is loaded from Azurite; Ready=True only once the server serves it', async () => {
    expect(await served()).toEqual([COMMITTED_MODEL_VERSION]);
    const deployed = await client.deploy('spam-detector-staging', {
      storageUri: modelStorageUri(MODEL_NAME, NEW_VERSION),
      modelVersion: NEW_VERSION,
    });
    expect(deployed.status.ready).toBe(false);
    const ready = await client.waitReady('spam-detector-staging', { timeoutMs: 30000, pollMs: 20 });
    expect(ready).toMatchObject({ ready: true, reconciled: true, generation: 2 });
    expect(await served()).toEqual([NEW_VERSION]);
    const infer = await fetch(`${server.url}/v2/models/${MODEL_NAME}/infer`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: [{ name: 'features', datatype: 'FP32', shape: [1, 50], data: new Array(50).fill(0) }] }),
    });
    expect(((await infer.json()) as { model_version: string }).model_version).toBe(NEW_VERSION);
  }, 60000);

  test('a storageUri without files fails with Ready=False and a reason; the old version keeps serving', async () => {
    const before = await served();
    await client.deploy('spam-detector-staging', {
      storageUri: modelStorageUri(MODEL_NAME, '9.9.9-missing'),
      modelVersion: '9.9.9-missing',
    });
    const err = await client.waitReady('spam-detector-staging', { timeoutMs: 30000, pollMs: 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InferenceServiceNotReadyError);
    expect((err as Error).message).toMatch(/ModelLoadFailed.*nothing to download/);
    expect((await client.getStatus('spam-detector-staging')).ready).toBe(false);
    expect(await served()).toEqual(before);
  }, 60000);
});
