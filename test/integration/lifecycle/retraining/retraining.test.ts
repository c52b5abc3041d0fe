// Retraining end to end on the in-process runner against Azurite: feedback in the feedback container, the committed
// model as the champion in models/ (production serves it, per the fake Kubernetes API), the in-process trainer on a
// subsample of the corpus, and the promotion it starts (smoke evaluation through a stand-in gateway).
import { HttpRequest, InvocationContext } from '@azure/functions';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  baselinePath,
  challengerPrefix,
  CONTAINERS,
  feedbackBlobName,
  modelPrefix,
  retrainingHoldoutPath,
} from '../../../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient } from '../../../../shared/platform/blobStorage';
import { ANNOTATIONS } from '../../../../shared/lifecycle/kubernetes/inferenceService';
import { COMMITTED_MODEL_VERSION, MODEL_FILES, publishCommittedModel } from '../../../../shared/model/modelArtifacts';
import { resetInferenceServices } from '../../../../shared/lifecycle/promotion/activities';
import { inProcessBackend, localPromotion } from '../../../../shared/lifecycle/promotion/service';
import { registerHeldOutSource } from '../../../../shared/lifecycle/promotion/heldOutSet';
import { compareActivity, registerActivity } from '../../../../shared/lifecycle/retraining/activities';
import { driftRetrainingId, localRetraining, retrainOnCriticalDrift } from '../../../../shared/lifecycle/retraining/service';
import { registerRetrainingTrainer } from '../../../../shared/lifecycle/retraining/trainer';
import { RetrainingRecord } from '../../../../shared/lifecycle/retraining/types';
import { messageKey, serializeFeedbackRecord, FeedbackRecord } from '../../../../shared/feedback/feedbackRecord';
import { parseModelCard } from '../../../../shared/model/modelCard';
import { retrainModel } from '../../../../functions/retrainModel';
import { retrainingStatus } from '../../../../functions/retrainingStatus';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { setAppEnv } from '../../../helpers/env';
import { FakeKubeApi, fakeKubeconfigYaml, startFakeKubeApi } from '../../../helpers/fakeKubeApi';
import { loadCorpus } from '../../../../training/corpus';
import { corpusHeldOutSource } from '../../../../training/heldOutCorpus';
import { inProcessTrainer } from '../../../../training/retrainingTrainer';

jest.setTimeout(180_000);

const NS = 'kserve';
const MODELS_URI = 'https://acct.blob.core.windows.net/models';
const uriOf = (version: string) => `${MODELS_URI}/spam-detector/${version}/triton/`;
const CUTOFF = new Date('2026-11-20T00:00:00.000Z');

let azurite: TestAzurite;
let kube: FakeKubeApi;
let gateway: http.Server;
let restoreEnv: () => void;
let dir: string;

/** The gateway's batch response for corpus mail, scored from the labels (the promotion's smoke evaluation passes). */
async function startStandInGateway(): Promise<string> {
  const labels = new Map(loadCorpus().map((m) => [m.raw.toString('base64'), m.spam]));
  gateway = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const env = String(req.headers['x-environment'] ?? 'production');
      const isvc = kube.get(NS, env === 'staging' ? 'spam-detector-staging' : 'spam-detector')!;
      const version = isvc.metadata.annotations[ANNOTATIONS.modelVersion];
      const instances = (JSON.parse(body) as { instances: Array<{ raw: string }> }).instances;
      const results = instances.map((inst, i) => {
        const probability = (labels.get(inst.raw) ? 0.8 : 0.2) + ((i % 7) - 3) * 0.02;
        return {
          prediction: probability >= 0.5 ? 'spam' : 'ham',
          probability,
          probabilities: [1 - probability, probability],
          threshold: 0.5,
          model: { name: 'spam-detector', version },
          environment: env,
          degraded: false,
        };
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({ environment: env, model: { name: 'spam-detector', version }, degraded: false, count: results.length, results }),
      );
    });
  });
  await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
}

/**
 * Feedback on newer mail the champion gets wrong: a spam run written word for word like ordinary office mail (the
 * champion cannot tell them apart), and that office mail, each labelled by users over the ten days before the cut-off.
 */
function feedbackMail(i: number): { raw: Buffer; spam: boolean } {
  const spam = i % 2 === 0;
  const domain = spam ? `ledgerbloom${1000 + i}.org` : `quillmoorsa${1000 + i}.org`;
  const topic = ['the budget', 'Thursday', 'the offsite', 'the report', 'our sync'][i % 5];
  // The same words but one, from senders never seen before: only what the users taught it tells the two apart.
  const place = spam ? 'the ledgerbloom folder' : 'the quillmoorsa folder';
  const body = `Hi,\n\nquick note about ${topic}: I moved the notes to ${place} (item ${1000 + i}); comments welcome before Friday.\n\nThanks,\nDana\n`;
  const raw = Buffer.from(
    `From: Dana <dana@${domain}>\nTo: team@example.com\nSubject: About ${topic} (${i})\nDate: Tue, 10 Nov 2026 10:00:00 +0000\nMessage-ID: <${i}@${domain}>\nContent-Type: text/plain; charset=us-ascii\n\n${body}`,
    'utf8',
  );
  return { raw, spam };
}

async function seedFeedback(count: number): Promise<void> {
  const container = getContainerClient(CONTAINERS.feedback);
  await container.createIfNotExists();
  const byDay = new Map<string, FeedbackRecord[]>();
  for (let i = 0; i < count; i++) {
    const { raw, spam } = feedbackMail(i);
    const received = new Date(CUTOFF.getTime() - 10 * 86400_000 + Math.floor((i * 10 * 86400_000) / count));
    const record: FeedbackRecord = {
      feedback_id: `${received.getTime()}-test-${i}`,
      message_key: messageKey(raw),
      label: spam ? 'spam' : 'ham',
      received_at: received.toISOString(),
      form: 'raw',
      message: raw.toString('base64'),
    };
    const day = record.received_at.slice(0, 10);
    byDay.set(day, [...(byDay.get(day) ?? []), record]);
  }
  let seq = 0;
  for (const [day, records] of byDay) {
    const text = records.map((r) => `${serializeFeedbackRecord(r)}\n`).join('');
    await container
      .getBlockBlobClient(feedbackBlobName(day, new Date(`${day}T23:00:00Z`), 'test', seq++))
      .upload(text, Buffer.byteLength(text));
  }
}

const ctx = () => new InvocationContext({ functionName: 'test', logHandler: () => undefined });
function request(method: string, url: string, params: Record<string, string>, body?: unknown): HttpRequest {
  return new HttpRequest({
    method,
    url,
    params,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: { string: JSON.stringify(body) } } : {}),
  });
}
async function startRun(body: unknown): Promise<{ status: number; jsonBody: any }> {
  return (await retrainModel(request('POST', 'http://localhost/api/models/retrain', {}, body), ctx())) as { status: number; jsonBody: any };
}
async function blobNames(container: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of getContainerClient(container).listBlobsFlat({ prefix })) out.push(b.name);
  return out;
}
const line = (r: RetrainingRecord) =>
  `${r.outcome}: champion ${r.champion} AUC ${r.comparison?.champion.metrics.rocAuc.toFixed(4)} FPR ${r.comparison?.champion.metrics.hamFalsePositiveRate.toFixed(4)} recall ${r.comparison?.champion.metrics.spamRecall.toFixed(4)}; challenger ${r.challenger} AUC ${r.comparison?.challenger.metrics.rocAuc.toFixed(4)} FPR ${r.comparison?.challenger.metrics.hamFalsePositiveRate.toFixed(4)} recall ${r.comparison?.challenger.metrics.spamRecall.toFixed(4)} on ${r.comparison?.holdout.rows} rows`;

beforeAll(async () => {
  registerHeldOutSource(corpusHeldOutSource());
  azurite = await startTestAzurite();
});
afterAll(async () => {
  registerRetrainingTrainer(undefined);
  registerHeldOutSource(undefined);
  await azurite.dispose();
});

beforeEach(async () => {
  kube = await startFakeKubeApi();
  kube.readyAfterMs = 30;
  for (const name of ['spam-detector-staging', 'spam-detector']) {
    kube.addInferenceService({
      name,
      namespace: NS,
      storageUri: uriOf(COMMITTED_MODEL_VERSION),
      annotations: { [ANNOTATIONS.modelVersion]: COMMITTED_MODEL_VERSION },
    });
  }
  const gatewayUrl = await startStandInGateway();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retraining-'));
  fs.writeFileSync(path.join(dir, 'kubeconfig'), fakeKubeconfigYaml(kube.url, kube.caData));
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    WORKFLOW_BACKEND: 'in-process',
    KUBE_CONNECTION: 'kubeconfig',
    KUBECONFIG: path.join(dir, 'kubeconfig'),
    KSERVE_MODELS_URI: MODELS_URI,
    PROMOTION_GATEWAY_URL: `${gatewayUrl}/api`,
    PROMOTION_READY_POLL_MS: '20',
    PROMOTION_READY_TIMEOUT_S: '10',
    PROMOTION_SMOKE_SAMPLES: '60',
    RETRAIN_MIN_AUC_GAIN: '0.02',
    RETRAIN_MAX_HAM_FPR_INCREASE: '0.05',
    RETRAIN_HOLDOUT_FRACTION: '0.15',
    RETRAIN_ON_CRITICAL_DRIFT: 'true',
  });
  resetInferenceServices();
  registerRetrainingTrainer(inProcessTrainer({ subsample: 20 }));
  await ensureContainers([CONTAINERS.models, CONTAINERS.baselines, CONTAINERS.feedback]);
  await publishCommittedModel();
  await seedFeedback(240);
});

// A promotion a retraining started runs on in this process after its test: one left awaiting approval would be
// "another promotion still running" to the next test's retraining, and its approval timer would outlive the file.
async function settlePromotions(): Promise<void> {
  const backend = inProcessBackend({ log: () => undefined, warn: () => undefined, error: () => undefined });
  for (const id of await backend.running()) {
    const run = localPromotion(id)!;
    const deadline = Date.now() + 30_000;
    while (run.getStatus().runtimeStatus === 'Running' && Date.now() < deadline) {
      if ((run.getStatus().customStatus as { step?: string } | null)?.step === 'awaiting approval') {
        await backend.raiseApproval(id, { approved: false, by: 'test teardown', at: new Date().toISOString() });
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await run.done.catch(() => undefined);
  }
}

afterEach(async () => {
  await settlePromotions();
  restoreEnv();
  resetInferenceServices();
  await new Promise((resolve) => gateway.close(resolve));
  await kube.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('a challenger that beats the champion on the newest feedback is registered and promoted (auto-approved)', async () => {
  const started = Date.now();
  const res = await startRun({ cutoff: CUTOFF.toISOString(), autoApprove: true });
  expect(res.status).toBe(202);
  const id = res.jsonBody.id as string;
  // One at a time.
  const second = await startRun({ cutoff: CUTOFF.toISOString() });
  expect(second.status).toBe(409);
  expect(second.jsonBody.error.message).toContain(id);

  const record = await localRetraining(id)!.done;
  console.log(`winner run ${((Date.now() - started) / 1000).toFixed(1)} s; ${line(record)}`);
  expect(record.outcome).toBe('promotion_started');
  expect(record.champion).toBe(COMMITTED_MODEL_VERSION);
  const version = record.challenger!;
  expect(version).toBe('1.3.0-r20261120T000000Z');
  expect(record.gate!.passed).toBe(true);
  expect(record.comparison!.holdout.feedback).toBeGreaterThan(0);
  expect(record.comparison!.challenger.metrics.rocAuc).toBeGreaterThan(record.comparison!.champion.metrics.rocAuc + 0.02);

  // Registered: the model in models/, its baseline in baselines/, the comparison in its card.
  const card = parseModelCard(
    JSON.parse(
      (
        await getContainerClient(CONTAINERS.models)
          .getBlobClient(modelPrefix('spam-detector', version) + MODEL_FILES.card)
          .downloadToBuffer()
      ).toString(),
    ),
  );
  expect(card.retraining?.gate.passed).toBe(true);
  expect(card.retraining?.champion.version).toBe(COMMITTED_MODEL_VERSION);
  expect(await getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath('spam-detector', version)).exists()).toBe(true);
  // The held-out mail (feedback bytes) does not outlive the run.
  expect(await getContainerClient(CONTAINERS.models).getBlobClient(retrainingHoldoutPath('spam-detector', id)).exists()).toBe(false);

  // The promotion it started approves itself, says so, and ends with production serving the challenger.
  const promotion = await localPromotion(record.promotionId!)!.done;
  expect(promotion.outcome).toBe('promoted');
  expect(promotion.approval).toMatchObject({ approved: true, automatic: true, by: `retraining ${id}` });
  expect(kube.get(NS, 'spam-detector')!.spec.predictor.model.storageUri).toBe(uriOf(version));

  const status = (await retrainingStatus(request('GET', `http://localhost/api/retrainings/${id}`, { id }), ctx())) as {
    status: number;
    jsonBody: any;
  };
  expect(status.status).toBe(200);
  expect(status.jsonBody.record.outcome).toBe('promotion_started');
});

test('a challenger that cannot clear the margin is kept under challengers/ and never served', async () => {
  restoreEnv = ((restore, more) => () => (more(), restore()))(restoreEnv, setAppEnv({ RETRAIN_MIN_AUC_GAIN: '1' }));
  const res = await startRun({ cutoff: new Date(CUTOFF.getTime() + 1000).toISOString() });
  expect(res.status).toBe(202);
  const record = await localRetraining(res.jsonBody.id)!.done;
  console.log(`loser: ${line(record)}`);
  expect(record.outcome).toBe('rejected');
  expect(record.promotionId).toBeUndefined();
  const version = record.challenger!;
  const kept = await blobNames(CONTAINERS.models, challengerPrefix('spam-detector', version));
  expect(kept).toEqual(expect.arrayContaining([expect.stringMatching(/model\.onnx$/), expect.stringMatching(/baseline\.json$/)]));
  const card = JSON.parse(
    (
      await getContainerClient(CONTAINERS.models)
        .getBlobClient(challengerPrefix('spam-detector', version) + MODEL_FILES.card)
        .downloadToBuffer()
    ).toString(),
  );
  expect(card.retraining.gate.passed).toBe(false);
  expect(await blobNames(CONTAINERS.models, modelPrefix('spam-detector', version))).toEqual([]);
  expect(await getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath('spam-detector', version)).exists()).toBe(false);
  expect(kube.get(NS, 'spam-detector')!.spec.predictor.model.storageUri).toBe(uriOf(COMMITTED_MODEL_VERSION));
});

test('a crash after training leaves no registered version and no lock; the next run is clean', async () => {
  const spy = jest.spyOn(compareActivity, 'handler').mockRejectedValueOnce(new Error('worker lost'));
  try {
    // A cut-off of its own: the first test registered the version of CUTOFF in this Azurite.
    const cutoff = new Date(CUTOFF.getTime() + 2000).toISOString();
    const res = await startRun({ cutoff, autoApprove: true });
    const crashed = await localRetraining(res.jsonBody.id)!.done;
    expect(crashed.outcome).toBe('failed');
    expect(crashed.reason).toContain('worker lost');
    const version = crashed.challenger!;
    expect(await blobNames(CONTAINERS.models, modelPrefix('spam-detector', version))).toEqual([]);
    expect(await getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath('spam-detector', version)).exists()).toBe(false);

    const again = await startRun({ cutoff, autoApprove: false });
    expect(again.status).toBe(202);
    const record = await localRetraining(again.jsonBody.id)!.done;
    expect(record.outcome).toBe('promotion_started');
    expect(record.challenger).toBe(version);
    expect(await blobNames(CONTAINERS.models, modelPrefix('spam-detector', version))).toHaveLength(Object.keys(MODEL_FILES).length);
  } finally {
    spy.mockRestore();
  }
});

test('a registered version is never written over: the register step refuses it and writes nothing', async () => {
  // The committed version is registered in this Azurite (beforeEach publishes it), as a rerun's version could be.
  const card = getContainerClient(CONTAINERS.models).getBlobClient(
    modelPrefix('spam-detector', COMMITTED_MODEL_VERSION) + MODEL_FILES.card,
  );
  const before = (await card.getProperties()).etag;
  const result = await registerActivity.handler(
    { model: 'spam-detector', version: COMMITTED_MODEL_VERSION, runId: 'retrain-rerun' },
    ctx(),
  );
  expect(result).toEqual({ uploaded: [], alreadyRegistered: true });
  expect((await card.getProperties()).etag).toBe(before);
});

test('a critical drift report starts one retraining per environment and day; without a trainer the start is a 503', async () => {
  const at = new Date();
  const first = await retrainOnCriticalDrift(ctx(), { env: 'production', runId: 'timer-a', at });
  expect(first.started).toBe(driftRetrainingId('production', at));
  const second = await retrainOnCriticalDrift(ctx(), { env: 'production', runId: 'timer-b', at });
  expect(second.started).toBeUndefined();
  const record = await localRetraining(first.started!)!.done;
  expect(record.trigger).toBe('drift');
  expect(['promotion_started', 'rejected']).toContain(record.outcome);
  const third = await retrainOnCriticalDrift(ctx(), { env: 'production', runId: 'timer-c', at });
  expect(third.skipped).toContain('exists already');

  registerRetrainingTrainer(undefined);
  const res = await startRun({});
  expect(res.status).toBe(503);
  expect(res.jsonBody.error.code).toBe('misconfigured');
  expect(res.jsonBody.error.message).toContain('trainer');
});
