// The promotion end to end with the real gateway: the local Functions host (npm start's, as a child process) serves
// POST /api/predict with its staging backend on a local V2 model server that holds the version being promoted;
// the promotion runs in-process with its real activities against Azurite and the fake Kubernetes API (no cluster
// here, test/helpers/fakeKubeApi.ts), and its smoke evaluation sends the whole time-forward test period of the
// corpus through the gateway with X-Environment: staging. The host seeds its own Feast project at start (as `npm
// start` does), so the gateway reads the sender statistics the card's figures were computed with.
import { HttpRequest, InvocationContext } from '@azure/functions';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promoteModel } from '../../../../functions/promoteModel';
import { promotionDecision } from '../../../../functions/promotionDecision';
import { CONTAINERS } from '../../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../../shared/platform/blobStorage';
import { ANNOTATIONS } from '../../../../shared/lifecycle/kubernetes/inferenceService';
import { committedModelDir, COMMITTED_MODEL_VERSION, publishModel } from '../../../../shared/model/modelArtifacts';
import { resetInferenceServices } from '../../../../shared/lifecycle/promotion/activities';
import { localPromotion } from '../../../../shared/lifecycle/promotion/service';
import { copyModelAsVersion, RestartableModelServer, startRestartableModelServer } from '../../../helpers/gatewayStack';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { setAppEnv } from '../../../helpers/env';
import { FakeKubeApi, fakeKubeconfigYaml, startFakeKubeApi } from '../../../helpers/fakeKubeApi';
import { RunningHost, startHostProcess, waitFor } from '../../../helpers/localHost';
import { dropFeastProject } from '../../../helpers/feastProject';
import { registerHeldOutSource } from '../../../../shared/lifecycle/promotion/heldOutSet';
import { corpusHeldOutSource } from '../../../../training/heldOutCorpus';

const NEW_VERSION = '1.0.1-promotion-test';
const MODELS_URI = 'https://acct.blob.core.windows.net/models';
const uriOf = (version: string) => `${MODELS_URI}/spam-detector/${version}/triton/`;

let azurite: TestAzurite;
let kube: FakeKubeApi;
let production: RestartableModelServer;
let staging: RestartableModelServer;
let newModel: { dir: string; dispose(): void };
let host: RunningHost;
let restoreEnv: () => void;
let dir: string;
const feastProject = `promo_test_${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  registerHeldOutSource(corpusHeldOutSource());
  azurite = await startTestAzurite();
  newModel = copyModelAsVersion(NEW_VERSION);
  [production, staging] = await Promise.all([
    startRestartableModelServer(committedModelDir(), 'production'),
    startRestartableModelServer(newModel.dir, 'staging'),
  ]);
  host = await startHostProcess({
    env: {
      AzureWebJobsStorage: azurite.connectionString,
      LOCAL_MODEL_SERVERS: 'false',
      KSERVE_PRODUCTION_URL: production.url,
      KSERVE_STAGING_URL: staging.url,
      MODEL_DIR_STAGING: newModel.dir,
      FEAST_PROJECT: feastProject,
      LOCAL_FEAST_SEED: 'true',
    },
  });
  await waitFor(
    async () => /Feast: \d+ senders of the training period .* \d+ written/.exec(host.output())?.[0],
    60000,
    'the Feast store seeded at start',
  );
  kube = await startFakeKubeApi();
  for (const [name, min, max] of [
    ['spam-detector-staging', 1, 3],
    ['spam-detector', 2, 10],
  ] as const) {
    kube.addInferenceService({
      name,
      namespace: 'kserve',
      storageUri: uriOf(COMMITTED_MODEL_VERSION),
      minReplicas: min,
      maxReplicas: max,
      annotations: { [ANNOTATIONS.modelVersion]: COMMITTED_MODEL_VERSION },
    });
  }
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promotion-gw-'));
  fs.writeFileSync(path.join(dir, 'kubeconfig'), fakeKubeconfigYaml(kube.url, kube.caData));
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    KUBE_CONNECTION: 'kubeconfig',
    KUBECONFIG: path.join(dir, 'kubeconfig'),
    KSERVE_MODELS_URI: MODELS_URI,
    PROMOTION_GATEWAY_URL: host.url,
    PROMOTION_READY_POLL_MS: '20',
    PROMOTION_SMOKE_SAMPLES: '2000',
  });
  resetInferenceServices();
  await ensureContainers([CONTAINERS.models]);
  await publishModel(newModel.dir, undefined, { version: NEW_VERSION });
}, 90000);

afterAll(async () => {
  await dropFeastProject(feastProject);
  restoreEnv?.();
  resetInferenceServices();
  await host?.stop();
  await Promise.all([production?.stop(), staging?.stop()]);
  newModel?.dispose();
  await kube?.close();
  await azurite?.dispose();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

test('promotes a version whose smoke evaluation through the real gateway reproduces its card', async () => {
  const ctx = () => new InvocationContext({ functionName: 'test', logHandler: () => undefined });
  const started = (await promoteModel(
    new HttpRequest({
      method: 'POST',
      url: `${host.url}/models/${NEW_VERSION}/promote`,
      params: { version: NEW_VERSION },
      headers: { 'x-ms-client-principal-name': 'release@example.org' },
    }),
    ctx(),
  )) as { status: number; jsonBody: { id: string } };
  expect(started.status).toBe(202);
  const id = started.jsonBody.id;
  const run = localPromotion(id)!;
  const deadline = Date.now() + 120000;
  while ((run.getStatus().customStatus as { step?: string } | null)?.step !== 'awaiting approval') {
    if (run.getStatus().runtimeStatus !== 'Running') break;
    if (Date.now() > deadline) throw new Error('no approval step in time');
    await new Promise((r) => setTimeout(r, 100));
  }
  const approved = await promotionDecision(
    new HttpRequest({ method: 'POST', url: `${host.url}/promotions/${id}/approve`, params: { id, decision: 'approve' } }),
    ctx(),
  );
  expect(approved.status).toBe(202);
  const record = await run.done;
  const card = JSON.parse(fs.readFileSync(path.join(newModel.dir, 'model.json'), 'utf8'));
  const reference = card.metrics.timeForwardTest;
  expect(record.outcome).toBe('promoted');
  expect(record.requestedBy).toBe('release@example.org');
  expect(record.smoke).toMatchObject({ passed: true, samples: reference.rows, modelVersions: [NEW_VERSION], failures: [] });
  // Served through the gateway, the model scores the held-out period as training did (no training/serving skew).
  // The held-out mail travels as its exact bytes (base64), so the serving path reproduces the card: every prediction
  // (accuracy to its 6 digits), and the ranking up to the served model's float32 arithmetic (the card scores with the
  // float64 weights; a few near-certain spam and ham probabilities tie or swap in float32).
  expect(Math.abs(record.smoke!.accuracy - reference.accuracy)).toBeLessThan(1e-6);
  expect(Math.abs(record.smoke!.rocAuc - reference.rocAuc)).toBeLessThan(5e-5);
  expect(kube.get('kserve', 'spam-detector')!.spec.predictor.model.storageUri).toBe(uriOf(NEW_VERSION));
  process.stdout.write(
    `smoke evaluation through the gateway: ${record.smoke!.samples} messages, accuracy ${record.smoke!.accuracy.toFixed(6)} (card ${reference.accuracy}), ` +
      `ROC AUC ${record.smoke!.rocAuc.toFixed(6)} (card ${reference.rocAuc})\n`,
  );
}, 180000);
