// Promotion end to end through the orchestrator: the HTTP functions start it and approve/reject it, the in-process
// runner drives the real orchestrator generator, and the activities run for real against Azurite (models/, the
// promotion record), the Kubernetes API (the local fake of test/helpers/fakeKubeApi.ts, recorded from the
// Kubernetes/KServe docs: no cluster runs here) and a gateway over HTTP.
import { HttpRequest, InvocationContext } from '@azure/functions';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTAINERS, modelPrefix, promotionRecordPath } from '../../../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient } from '../../../../shared/platform/blobStorage';
import { FEATURES } from '../../../../shared/serving/features/featureList';
import { ANNOTATIONS } from '../../../../shared/lifecycle/kubernetes/inferenceService';
import { MODEL_FILES } from '../../../../shared/model/modelArtifacts';
import {
  PROMOTION_CHECK_ARTIFACTS_ACTIVITY,
  PROMOTION_DEPLOY_ACTIVITY,
  PROMOTION_READ_STATUS_ACTIVITY,
  PROMOTION_RECORD_ACTIVITY,
  PROMOTION_ROLLBACK_ACTIVITY,
  PROMOTION_SMOKE_EVALUATION_ACTIVITY,
  resetInferenceServices,
} from '../../../../shared/lifecycle/promotion/activities';
import { PROMOTION_ORCHESTRATOR } from '../../../../shared/lifecycle/promotion/orchestrator';
import { localPromotion } from '../../../../shared/lifecycle/promotion/service';
import { PromotionRecord } from '../../../../shared/lifecycle/promotion/types';
import { promoteModel } from '../../../../functions/promoteModel';
import { promotionDecision } from '../../../../functions/promotionDecision';
import { promotionStatus } from '../../../../functions/promotionStatus';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { setAppEnv } from '../../../helpers/env';
import { FakeKubeApi, startFakeKubeApi } from '../../../helpers/fakeKubeApi';
import { adminRequest, promotionTestSettings, StandInGateway, startStandInGateway, uriOf } from '../../../helpers/promotionStack';
import { REPO_ROOT } from '../../../helpers/paths';
import { registerHeldOutSource } from '../../../../shared/lifecycle/promotion/heldOutSet';
import { corpusHeldOutSource } from '../../../../training/heldOutCorpus';

const NS = 'kserve';

let azurite: TestAzurite;
let kube: FakeKubeApi;
let gateway: StandInGateway;
let restoreEnv: () => void;
let dir: string;

/** A model version's files in models/, with a schema-valid card (the promotion never loads the ONNX bytes). */
async function publishVersion(version: string, options: { features?: string[]; skip?: string[] } = {}) {
  const metrics = {
    rows: 1800,
    spam: 600,
    ham: 1200,
    rocAuc: 0.99,
    threshold: 0.6,
    spamRecall: 0.9,
    hamFalsePositiveRate: 0.01,
    precision: 0.97,
    accuracy: 0.96,
    f1: 0.93,
    logLoss: 0.1,
    confusion: { tp: 540, fp: 12, tn: 1188, fn: 60 },
  };
  const card = {
    schemaVersion: 1,
    name: 'spam-detector',
    version,
    created: '2026-01-01T00:00:00.000Z',
    createdFrom: 'test',
    description: 'test card',
    signature: {
      input: { name: 'features', datatype: 'FP32', shape: [-1, 50] },
      output: { name: 'probabilities', datatype: 'FP32', shape: [-1, 2], classes: ['ham', 'spam'] },
    },
    features: (options.features ?? FEATURES.map((f) => f.name)).map((name) => ({ name, description: name, group: 'content' })),
    files: { onnx: 'model.onnx', tokens: 'tokens.json', triton: 'triton/', baseline: 'baseline.json', sha256: {} },
    threshold: {
      value: 0.6,
      targetHamFalsePositiveRate: 0.01,
      chosenOn: 'validation',
      validationRows: 900,
      validationHamFalsePositiveRate: 0.01,
      validationSpamRecall: 0.9,
    },
    training: {},
    metrics: { randomTest: { ...metrics, accuracy: 0.99 }, timeForwardTest: metrics },
    baseline: {},
  };
  const container = getContainerClient(CONTAINERS.models);
  const files: Record<string, string> = {
    [MODEL_FILES.onnx]: 'onnx',
    [MODEL_FILES.card]: JSON.stringify(card),
    [MODEL_FILES.tritonOnnx]: 'onnx',
    [MODEL_FILES.tritonConfig]: 'name: "spam-detector"',
  };
  for (const [file, body] of Object.entries(files)) {
    if (options.skip?.includes(file)) continue;
    await container.getBlockBlobClient(modelPrefix('spam-detector', version) + file).upload(body, Buffer.byteLength(body));
  }
}

const ctx = () => new InvocationContext({ functionName: 'test', logHandler: () => undefined });

async function start(version: string, requestedBy = 'alice') {
  const res = await promoteModel(
    adminRequest('POST', `http://localhost/api/models/${version}/promote`, { version }, { requestedBy }),
    ctx(),
  );
  return res;
}
async function status(id: string) {
  return (await promotionStatus(adminRequest('GET', `http://localhost/api/promotions/${id}`, { id }), ctx())) as {
    status: number;
    jsonBody: any;
  };
}
async function decide(id: string, decision: string, body: unknown = { by: 'bob', comment: 'looks good' }) {
  return (await promotionDecision(
    adminRequest('POST', `http://localhost/api/promotions/${id}/${decision}`, { id, decision }, body),
    ctx(),
  )) as {
    status: number;
    jsonBody: any;
  };
}
async function waitForStep(id: string, step: string): Promise<void> {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    const s = await status(id);
    if (s.jsonBody?.step?.step === step) return;
    if (s.jsonBody?.runtimeStatus !== 'Running') throw new Error(`promotion ended before '${step}': ${JSON.stringify(s.jsonBody)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`promotion never reached '${step}'`);
}
async function finished(id: string): Promise<PromotionRecord> {
  return localPromotion(id)!.done;
}
async function storedRecord(id: string): Promise<PromotionRecord> {
  const bytes = await getContainerClient(CONTAINERS.models).getBlobClient(promotionRecordPath('spam-detector', id)).downloadToBuffer();
  return JSON.parse(bytes.toString('utf8'));
}
const served = (name: string) => kube.get(NS, name)!.spec.predictor.model.storageUri as string;
const patchesTo = (name: string) => kube.requests.filter((r) => r.method === 'PATCH' && r.path.endsWith(`/${name}`)).length;

beforeAll(async () => {
  registerHeldOutSource(corpusHeldOutSource());
  azurite = await startTestAzurite();
});
afterAll(async () => {
  await azurite.dispose();
});

beforeEach(async () => {
  kube = await startFakeKubeApi();
  kube.readyAfterMs = 30;
  kube.addInferenceService({
    name: 'spam-detector-staging',
    namespace: NS,
    storageUri: uriOf('1.0.0'),
    annotations: { [ANNOTATIONS.modelVersion]: '1.0.0' },
  });
  kube.addInferenceService({
    name: 'spam-detector',
    namespace: NS,
    storageUri: uriOf('1.0.0'),
    minReplicas: 2,
    maxReplicas: 10,
    annotations: { [ANNOTATIONS.modelVersion]: '1.0.0' },
  });
  gateway = await startStandInGateway(kube, NS);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'promotion-'));
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    ...promotionTestSettings(kube, gateway, dir),
    PROMOTION_APPROVAL_TIMEOUT_S: '60',
  });
  resetInferenceServices();
  await ensureContainers([CONTAINERS.models]);
});

afterEach(async () => {
  restoreEnv();
  resetInferenceServices();
  await gateway.close();
  await kube.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('happy path: staging, smoke evaluation through the gateway, approval, production, record', async () => {
  await publishVersion('1.1.0');
  const res = (await start('1.1.0')) as { status: number; jsonBody: any; headers: any };
  expect(res.status).toBe(202);
  const id = res.jsonBody.id as string;
  expect(id).toMatch(/^promotion-1\.1\.0-\d{8}T\d{6}Z$/);
  await waitForStep(id, 'awaiting approval');
  // Staging serves the new version; production has not been touched.
  expect(served('spam-detector-staging')).toBe(uriOf('1.1.0'));
  expect(patchesTo('spam-detector')).toBe(0);
  // A second promotion cannot start while this one runs.
  await publishVersion('1.2.0');
  expect((await start('1.2.0')).status).toBe(409);

  expect((await decide(id, 'approve')).status).toBe(202);
  const record = await finished(id);
  expect(record).toMatchObject({
    outcome: 'promoted',
    version: '1.1.0',
    requestedBy: 'alice',
    approval: { approved: true, by: 'bob', comment: 'looks good' },
    rollbacks: [],
  });
  expect(served('spam-detector')).toBe(uriOf('1.1.0'));
  expect(kube.get(NS, 'spam-detector')!.metadata.annotations).toMatchObject({
    [ANNOTATIONS.modelVersion]: '1.1.0',
    [ANNOTATIONS.previousModelVersion]: '1.0.0',
  });
  // The smoke evaluation went through the gateway with X-Environment: staging and saw only the new version.
  expect(record.smoke).toMatchObject({
    passed: true,
    samples: 60,
    modelVersions: ['1.1.0'],
    reference: { metricsKey: 'timeForwardTest', accuracy: 0.96, rocAuc: 0.99 },
  });
  expect(gateway.environments).toEqual(new Set(['staging']));
  expect(record.steps.map((s) => s.step)).toEqual([
    'check artifacts',
    'deploy staging',
    'wait staging ready',
    'smoke evaluation',
    'awaiting approval',
    'approved',
    'deploy production',
    'wait production ready',
    'promoted',
  ]);
  expect(await storedRecord(id)).toEqual(record);
  const after = await status(id);
  expect(after.jsonBody).toMatchObject({ runtimeStatus: 'Completed', record: { outcome: 'promoted' } });
  // Deciding again is a conflict, not a second promotion.
  expect((await decide(id, 'approve')).status).toBe(409);
});

test('a failed smoke evaluation rolls staging back and never touches production', async () => {
  await publishVersion('1.1.0');
  gateway.quality = 'bad';
  const id = ((await start('1.1.0')) as any).jsonBody.id;
  const record = await finished(id);
  expect(record.outcome).toBe('rolled_back');
  expect(record.reason).toMatch(/^smoke evaluation: accuracy .* is below the card's 0\.9600 minus 0\.03/);
  expect(record.smoke?.passed).toBe(false);
  expect(record.rollbacks).toEqual([{ env: 'staging', changed: true, storageUri: uriOf('1.0.0') }]);
  expect(served('spam-detector-staging')).toBe(uriOf('1.0.0'));
  expect(kube.get(NS, 'spam-detector-staging')!.metadata.annotations[ANNOTATIONS.modelVersion]).toBe('1.0.0');
  expect(patchesTo('spam-detector')).toBe(0);
  expect((await storedRecord(id)).outcome).toBe('rolled_back');
});

test('no decision before the approval timeout rolls staging back', async () => {
  restoreEnv = ((prev) => {
    const undo = setAppEnv({ PROMOTION_APPROVAL_TIMEOUT_S: '1' });
    return () => (undo(), prev());
  })(restoreEnv);
  await publishVersion('1.1.0');
  const id = ((await start('1.1.0')) as any).jsonBody.id;
  const record = await finished(id);
  expect(record).toMatchObject({ outcome: 'rolled_back', reason: 'awaiting approval: no decision within 1 s' });
  expect(record.approval).toBeUndefined();
  expect(served('spam-detector-staging')).toBe(uriOf('1.0.0'));
  expect(patchesTo('spam-detector')).toBe(0);
});

test('a rejection rolls staging back and records who rejected it', async () => {
  await publishVersion('1.1.0');
  const id = ((await start('1.1.0')) as any).jsonBody.id;
  await waitForStep(id, 'awaiting approval');
  expect((await decide(id, 'reject', { by: 'carol', comment: 'not this week' })).status).toBe(202);
  const record = await finished(id);
  expect(record).toMatchObject({
    outcome: 'rejected',
    reason: 'awaiting approval: rejected by carol: not this week',
    approval: { approved: false, by: 'carol' },
  });
  expect(served('spam-detector-staging')).toBe(uriOf('1.0.0'));
  expect(patchesTo('spam-detector')).toBe(0);
});

test('production that never becomes Ready is rolled back, and staging too', async () => {
  await publishVersion('1.1.0');
  const id = ((await start('1.1.0')) as any).jsonBody.id;
  await waitForStep(id, 'awaiting approval');
  kube.brokenStorageUris.add(uriOf('1.1.0')); // from now on, rollouts of 1.1.0 fail (production's)
  await decide(id, 'approve');
  const record = await finished(id);
  expect(record.outcome).toBe('rolled_back');
  expect(record.reason).toMatch(/^wait production ready: production failed: .*ModelLoadFailed/);
  expect(record.rollbacks.map((r) => [r.env, r.changed])).toEqual([
    ['production', true],
    ['staging', true],
  ]);
  expect(served('spam-detector')).toBe(uriOf('1.0.0'));
  expect(served('spam-detector-staging')).toBe(uriOf('1.0.0'));
});

test('missing artifacts or a different feature list stop the promotion before anything changes', async () => {
  await publishVersion('1.3.0', { skip: [MODEL_FILES.tritonConfig] });
  let record = await finished(((await start('1.3.0')) as any).jsonBody.id);
  expect(record.reason).toMatch(
    /check artifacts: model version 1\.3\.0 is incomplete: missing models\/spam-detector\/1\.3\.0\/triton\/spam-detector\/config\.pbtxt/,
  );
  await publishVersion('1.4.0', { features: FEATURES.map((f) => f.name).reverse() });
  record = await finished(((await start('1.4.0')) as any).jsonBody.id);
  expect(record.reason).toMatch(/feature list differs/);
  record = await finished(((await start('9.9.9')) as any).jsonBody.id);
  expect(record.reason).toMatch(/model version 9\.9\.9 is not in models\//);
  expect(kube.requests.filter((r) => r.method === 'PATCH')).toHaveLength(0);
});

test('HTTP errors: bad version 400, unknown promotion 404, unknown action 404', async () => {
  expect((await start('../etc')).status).toBe(400);
  expect((await status('promotion-nope')).status).toBe(404);
  expect((await decide('promotion-nope', 'approve')).status).toBe(404);
  expect((await decide('promotion-nope', 'explode')).status).toBe(404);
  const bad = (await promoteModel(
    new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/models/1.1.0/promote',
      params: { version: '1.1.0' },
      headers: { 'content-type': 'application/json' },
      body: { string: '[1,2' },
    }),
    ctx(),
  )) as any;
  expect(bad.status).toBe(400);
  expect(bad.jsonBody.error.code).toBe('invalid_json');
  // The same body without a JSON Content-Type (what HttpRequest and curl -d default to) is refused for its type first.
  const untyped = (await promoteModel(
    new HttpRequest({
      method: 'POST',
      url: 'http://localhost/api/models/1.1.0/promote',
      params: { version: '1.1.0' },
      body: { string: '[1,2' },
    }),
    ctx(),
  )) as any;
  expect(untyped.status).toBe(415);
  expect(untyped.jsonBody.error.code).toBe('unsupported_media_type');
  const notObject = (await decide('promotion-nope', 'approve', ['bob'])) as any;
  expect(notObject.status).toBe(400);
  expect(notObject.jsonBody.error).toEqual({ code: 'validation_error', message: 'the body must be a JSON object (or empty)' });
});

test('the promotion routes are registered with admin auth and a Durable client input; the orchestration and activities under the names the orchestrator calls', () => {
  // What the Functions host receives, captured in a child process by the local host's @azure/functions-core
  // stand-in from the compiled files (the same registrations the Azure host gets).
  const script = `
    const { FunctionRegistry, installFunctionsCore } = require('./dist/tools/devhost/functionsCore');
    const registry = new FunctionRegistry();
    installFunctionsCore(registry);
    for (const f of ['promoteModel', 'promotionDecision', 'promotionStatus', 'promotionOrchestrator']) require('./dist/functions/' + f);
    console.log(JSON.stringify(registry.functions.map((f) => ({ name: f.name, bindings: Object.values(f.bindings) }))));`;
  const out = execFileSync(process.execPath, ['-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
  const functions = JSON.parse(out.trim().split('\n').pop()!) as Array<{ name: string; bindings: Array<Record<string, any>> }>;
  const byName = Object.fromEntries(functions.map((f) => [f.name, f.bindings]));
  for (const [name, route, method] of [
    ['promoteModel', 'models/{version}/promote', 'POST'],
    ['promotionDecision', 'promotions/{id}/{decision:alpha}', 'POST'],
    ['promotionStatus', 'promotions/{id}', 'GET'],
  ]) {
    const trigger = byName[name].find((b) => b.type === 'httpTrigger')!;
    expect({ name, authLevel: trigger.authLevel, route: trigger.route, methods: trigger.methods }).toEqual({
      name,
      authLevel: 'admin',
      route,
      methods: [method],
    });
    expect(byName[name].some((b) => b.type === 'durableClient' && b.direction === 'in')).toBe(true);
  }
  // The file, the registered orchestration and the name the starter passes to startNew are one name.
  expect(byName[PROMOTION_ORCHESTRATOR].map((b) => b.type)).toEqual(['orchestrationTrigger']);
  expect(
    Object.keys(byName)
      .filter((n) => byName[n].some((b) => b.type === 'activityTrigger'))
      .sort(),
  ).toEqual(
    [
      PROMOTION_CHECK_ARTIFACTS_ACTIVITY,
      PROMOTION_DEPLOY_ACTIVITY,
      PROMOTION_READ_STATUS_ACTIVITY,
      PROMOTION_RECORD_ACTIVITY,
      PROMOTION_ROLLBACK_ACTIVITY,
      PROMOTION_SMOKE_EVALUATION_ACTIVITY,
    ].sort(),
  );
});
