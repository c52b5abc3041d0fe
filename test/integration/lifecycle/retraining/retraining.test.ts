// Retraining end to end on the in-process runner against Azurite (test/helpers/retrainingStack.ts): a winner that is
// registered and promoted, a loser kept aside, crashes, a registered version never written over, concurrent starts,
// a promotion that is already running, and what a retrained model's card and the run's scratch may hold.
import {
  baselinePath,
  challengerPrefix,
  CONTAINERS,
  modelPrefix,
  retrainingHoldoutPath,
  retrainingRecordPath,
} from '../../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../../shared/platform/blobStorage';
import { COMMITTED_MODEL_VERSION, MODEL_FILES } from '../../../../shared/model/modelArtifacts';
import { inProcessBackend, localPromotion, startPromotion } from '../../../../shared/lifecycle/promotion/service';
import { compareActivity, recordActivity, registerActivity } from '../../../../shared/lifecycle/retraining/activities';
import { inProcessRetrainingBackend, localRetraining, startRetraining } from '../../../../shared/lifecycle/retraining/service';
import { registerRetrainingTrainer } from '../../../../shared/lifecycle/retraining/trainer';
import { challengerVersion } from '../../../../shared/lifecycle/retraining/version';
import { parseModelCard, SMOKE_METRICS_KEY } from '../../../../shared/model/modelCard';
import { referenceMetrics } from '../../../../shared/lifecycle/promotion/activities';
import { retrainModel } from '../../../../functions/retrainModel';
import { retrainingStatus } from '../../../../functions/retrainingStatus';
import {
  blobNames,
  CUTOFF,
  FEEDBACK_MESSAGES,
  feedbackMail,
  NS,
  recordLine,
  testContext as ctx,
  uriOf,
  useRetrainingStack,
} from '../../../helpers/retrainingStack';
import { adminRequest } from '../../../helpers/promotionStack';

jest.setTimeout(180_000);

const stack = useRetrainingStack();

async function startRun(body: unknown): Promise<{ status: number; jsonBody: any }> {
  return (await retrainModel(adminRequest('POST', 'http://localhost/api/models/retrain', {}, body), ctx())) as {
    status: number;
    jsonBody: any;
  };
}
const download = async (container: string, name: string) =>
  (await getContainerClient(container).getBlobClient(name).downloadToBuffer()).toString();

test('a challenger that beats the champion on the newest feedback is registered and promoted (auto-approved)', async () => {
  const started = Date.now();
  // One at a time, even when the starts come at the same moment: exactly one of them starts a run.
  const starts = await Promise.all([1, 2, 3, 4].map(() => startRun({ cutoff: CUTOFF.toISOString(), autoApprove: true })));
  expect(starts.map((r) => r.status).sort()).toEqual([202, 409, 409, 409]);
  const id = starts.find((r) => r.status === 202)!.jsonBody.id as string;
  const second = await startRun({ cutoff: CUTOFF.toISOString() });
  expect(second.status).toBe(409);
  expect(second.jsonBody.error.message).toContain(id);

  const record = await localRetraining(id)!.done;
  console.log(`winner run ${((Date.now() - started) / 1000).toFixed(1)} s; ${recordLine(record)}`);
  expect(record.outcome).toBe('promotion_started');
  expect(record.champion).toBe(COMMITTED_MODEL_VERSION);
  const version = record.challenger!;
  expect(version).toBe('1.3.0-r20261120T000000Z');
  expect(record.gate!.passed).toBe(true);
  expect(record.comparison!.holdout.feedback).toBeGreaterThan(0);
  // Enough feedback: the held-out rows the champion never saw decide, with nothing flattering it.
  expect(record.comparison!.holdout).toMatchObject({ optimisticForChampion: false, feedback: record.comparison!.holdout.rows });
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
  // Its test part is the held-out feedback, so the card also states its figures on the promotion's smoke evaluation
  // set (the corpus's whole test period), and that is what the promotion compares the gateway's answers with.
  expect(card.metrics[SMOKE_METRICS_KEY]).toMatchObject({ rows: 1814 });
  expect(referenceMetrics(card)).toEqual({
    key: SMOKE_METRICS_KEY,
    accuracy: card.metrics[SMOKE_METRICS_KEY].accuracy,
    rocAuc: card.metrics[SMOKE_METRICS_KEY].rocAuc,
  });
  expect(await getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath('spam-detector', version)).exists()).toBe(true);
  // The held-out mail (feedback bytes) does not outlive the run.
  expect(await getContainerClient(CONTAINERS.models).getBlobClient(retrainingHoldoutPath('spam-detector', id)).exists()).toBe(false);

  // Neither the card (registered, and the challenger's copy) nor the record holds a sender domain, an address or a
  // word of the feedback in clear; the error analysis that names the senders of false positives has keyed hashes.
  const texts = [
    await download(CONTAINERS.models, modelPrefix('spam-detector', version) + MODEL_FILES.card),
    await download(CONTAINERS.models, challengerPrefix('spam-detector', version) + MODEL_FILES.card),
    await download(CONTAINERS.models, retrainingRecordPath('spam-detector', id)),
  ];
  const diagnostics = card.diagnostics as { timeForwardTestFalsePositivesBySenderDomain: Array<{ senderDomain: string }> };
  expect(diagnostics.timeForwardTestFalsePositivesBySenderDomain.length).toBeGreaterThan(0);
  for (const r of diagnostics.timeForwardTestFalsePositivesBySenderDomain) expect(r.senderDomain).toMatch(/^[0-9a-f]{32}$/);
  const clear = [
    ...Array.from({ length: FEEDBACK_MESSAGES }, (_, i) => feedbackMail(i).domain),
    'ledgerbloom',
    'quillmoorsa',
    'dana@',
    'team@example.com',
    'comments welcome',
  ];
  for (const text of texts) expect(clear.filter((word) => text.includes(word))).toEqual([]);

  // The promotion it started approves itself, says so, and ends with production serving the challenger.
  const promotion = await localPromotion(record.promotionId!)!.done;
  expect(promotion.outcome).toBe('promoted');
  expect(promotion.approval).toMatchObject({ approved: true, automatic: true, by: `retraining ${id}` });
  expect(stack.kube.get(NS, 'spam-detector')!.spec.predictor.model.storageUri).toBe(uriOf(version));

  const status = (await retrainingStatus(adminRequest('GET', `http://localhost/api/retrainings/${id}`, { id }), ctx())) as {
    status: number;
    jsonBody: any;
  };
  expect(status.status).toBe(200);
  expect(status.jsonBody.record.outcome).toBe('promotion_started');
});

test('a challenger that cannot clear the margin is kept under challengers/ and never served', async () => {
  stack.setEnv({ RETRAIN_MIN_AUC_GAIN: '1' });
  const res = await startRun({ cutoff: new Date(CUTOFF.getTime() + 1000).toISOString() });
  expect(res.status).toBe(202);
  const record = await localRetraining(res.jsonBody.id)!.done;
  console.log(`loser: ${recordLine(record)}`);
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
  expect(stack.kube.get(NS, 'spam-detector')!.spec.predictor.model.storageUri).toBe(uriOf(COMMITTED_MODEL_VERSION));
});

test('a crash after training leaves no registered version, no held-out mail and no lock; the next run is clean', async () => {
  const spy = jest.spyOn(compareActivity, 'handler').mockRejectedValueOnce(new Error('worker lost'));
  try {
    // A cut-off of its own: the first test registered the version of CUTOFF in this Azurite.
    const cutoff = new Date(CUTOFF.getTime() + 2000).toISOString();
    const res = await startRun({ cutoff, autoApprove: true });
    const crashed = await localRetraining(res.jsonBody.id)!.done;
    expect(crashed.outcome).toBe('failed');
    expect(crashed.reason).toContain('worker lost');
    expect(crashed.steps.map((s) => s.step)).toContain('train');
    const version = crashed.challenger!;
    expect(await blobNames(CONTAINERS.models, modelPrefix('spam-detector', version))).toEqual([]);
    expect(await getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath('spam-detector', version)).exists()).toBe(false);
    expect(await blobNames(CONTAINERS.models, retrainingHoldoutPath('spam-detector', crashed.runId))).toEqual([]);

    // The held-out mail of a run stopped from outside (its process killed) is deleted by the next run.
    const orphan = getContainerClient(CONTAINERS.models).getBlockBlobClient(retrainingHoldoutPath('spam-detector', 'retrain-killed'));
    await orphan.upload('feedback bytes', 14);
    const again = await startRun({ cutoff, autoApprove: false });
    expect(again.status).toBe(202);
    const record = await localRetraining(again.jsonBody.id)!.done;
    expect(record.outcome).toBe('promotion_started');
    expect(record.challenger).toBe(version);
    expect(await blobNames(CONTAINERS.models, modelPrefix('spam-detector', version))).toHaveLength(Object.keys(MODEL_FILES).length);
    expect(await orphan.exists()).toBe(false);
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

test('a promotion still running stops the run before it trains; its held-out mail goes even when the record fails', async () => {
  const promotions = inProcessBackend({ log: () => undefined, warn: () => undefined, error: () => undefined });
  const promotion = await startPromotion(promotions, COMMITTED_MODEL_VERSION, 'test');
  const runId = 'retrain-while-promoting';
  // As if an earlier attempt of this run had trained and written its held-out copy of the feedback.
  const holdout = getContainerClient(CONTAINERS.models).getBlockBlobClient(retrainingHoldoutPath('spam-detector', runId));
  await holdout.upload('feedback bytes', 14);
  const spy = jest.spyOn(recordActivity, 'handler').mockRejectedValueOnce(new Error('storage lost'));
  try {
    const backend = inProcessRetrainingBackend({ log: () => undefined, warn: () => undefined, error: () => undefined });
    const cutoff = new Date(CUTOFF.getTime() + 3000);
    await startRetraining(backend, { trigger: 'http', requestedBy: 'test', runId, cutoff });
    await expect(localRetraining(runId)!.done).rejects.toThrow('storage lost');
    // What the record would have said: failed at gather, naming the promotion, before any training.
    const attempted = spy.mock.calls[0][0];
    expect(attempted).toMatchObject({
      outcome: 'failed',
      reason: expect.stringContaining(`gather: promotion ${promotion.promotionId} is still running`),
    });
    expect(attempted.steps.map((s) => s.step)).toEqual(['gather', 'failed']);
    expect(attempted.challenger).toBeUndefined();
    expect(
      await blobNames(CONTAINERS.models, challengerPrefix('spam-detector', challengerVersion(COMMITTED_MODEL_VERSION, cutoff))),
    ).toEqual([]);
    expect(await holdout.exists()).toBe(false);
  } finally {
    spy.mockRestore();
  }
  expect(localPromotion(promotion.promotionId)!.getStatus().runtimeStatus).toBe('Running');
});

test('without a trainer the start is a 503, before any run', async () => {
  registerRetrainingTrainer(undefined);
  const res = await startRun({});
  expect(res.status).toBe(503);
  expect(res.jsonBody.error.code).toBe('misconfigured');
  expect(res.jsonBody.error.message).toContain('trainer');
});
