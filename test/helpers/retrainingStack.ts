// The retraining tests' stack on the in-process runner against a private Azurite: the committed model as the
// champion in models/ (production serves it, per a fake Kubernetes API), labelled feedback in the feedback container,
// the in-process trainer on a subsample of the corpus, and a stand-in gateway (scoring corpus mail from its labels) for
// the smoke evaluation of the promotions a winner starts. Call `useRetrainingStack()` at the top level of a test file.
import { InvocationContext } from '@azure/functions';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CONTAINERS, feedbackBlobName } from '../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient } from '../../shared/platform/blobStorage';
import { ANNOTATIONS } from '../../shared/lifecycle/kubernetes/inferenceService';
import { COMMITTED_MODEL_VERSION, publishCommittedModel } from '../../shared/model/modelArtifacts';
import { resetInferenceServices } from '../../shared/lifecycle/promotion/activities';
import { inProcessBackend, localPromotion } from '../../shared/lifecycle/promotion/service';
import { registerHeldOutSource } from '../../shared/lifecycle/promotion/heldOutSet';
import { registerRetrainingTrainer } from '../../shared/lifecycle/retraining/trainer';
import { RetrainingRecord } from '../../shared/lifecycle/retraining/types';
import { messageKey, serializeFeedbackRecord, FeedbackRecord } from '../../shared/feedback/feedbackRecord';
import { startTestAzurite, TestAzurite } from './azurite';
import { setAppEnv } from './env';
import { FakeKubeApi, startFakeKubeApi } from './fakeKubeApi';
import { promotionTestSettings, StandInGateway, startStandInGateway, uriOf } from './promotionStack';
import { corpusHeldOutSource } from '../../training/heldOutCorpus';
import { inProcessTrainer } from '../../training/retrainingTrainer';

export const NS = 'kserve';
export { uriOf };
/** The feedback is received over the ten days before it. */
export const CUTOFF = new Date('2026-11-20T00:00:00.000Z');
export const FEEDBACK_MESSAGES = 240;

export interface RetrainingStack {
  readonly azurite: TestAzurite;
  /** The fake Kubernetes API of the current test. */
  readonly kube: FakeKubeApi;
  /** Settings for the current test only (restored after it). */
  setEnv(vars: Record<string, string | undefined>): void;
}

/**
 * Feedback on newer mail the champion gets wrong: a spam run written word for word like ordinary office mail (the
 * champion cannot tell them apart), and that office mail, each labelled by users over the ten days before the cut-off.
 * The newest message is ham worded like the spam run (mail its user wants all the same): newer than the slice the
 * challenger's threshold is chosen on, it is a false positive on the held-out mail, so the challenger's error
 * analysis has a feedback sender to name.
 */
export function feedbackMail(i: number): { raw: Buffer; spam: boolean; domain: string } {
  const spam = i % 2 === 0;
  const domain = spam ? `ledgerbloom${1000 + i}.org` : `quillmoorsa${1000 + i}.org`;
  const topic = ['the budget', 'Thursday', 'the offsite', 'the report', 'our sync'][i % 5];
  // The same words but one, from senders never seen before: only what the users taught it tells the two apart.
  const place = spam || i === FEEDBACK_MESSAGES - 1 ? 'the ledgerbloom folder' : 'the quillmoorsa folder';
  const body = `Hi,\n\nquick note about ${topic}: I moved the notes to ${place} (item ${1000 + i}); comments welcome before Friday.\n\nThanks,\nDana\n`;
  const raw = Buffer.from(
    `From: Dana <dana@${domain}>\nTo: team@example.com\nSubject: About ${topic} (${i})\nDate: Tue, 10 Nov 2026 10:00:00 +0000\nMessage-ID: <${i}@${domain}>\nContent-Type: text/plain; charset=us-ascii\n\n${body}`,
    'utf8',
  );
  return { raw, spam, domain };
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

// A promotion a retraining started runs on in this process after its test: one left awaiting approval would be
// "another promotion still running" to the next test's retraining, and its approval timer would outlive the file.
export async function settlePromotions(): Promise<void> {
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

export function useRetrainingStack(): RetrainingStack {
  const stack = {} as { azurite: TestAzurite; kube: FakeKubeApi; setEnv(vars: Record<string, string | undefined>): void };
  let gateway: StandInGateway;
  let dir: string;
  const restores: Array<() => void> = [];
  stack.setEnv = (vars) => restores.push(setAppEnv(vars));

  beforeAll(async () => {
    registerHeldOutSource(corpusHeldOutSource());
    stack.azurite = await startTestAzurite();
  });
  afterAll(async () => {
    registerRetrainingTrainer(undefined);
    registerHeldOutSource(undefined);
    await stack.azurite.dispose();
  });

  beforeEach(async () => {
    stack.kube = await startFakeKubeApi();
    stack.kube.readyAfterMs = 30;
    for (const name of ['spam-detector-staging', 'spam-detector']) {
      stack.kube.addInferenceService({
        name,
        namespace: NS,
        storageUri: uriOf(COMMITTED_MODEL_VERSION),
        annotations: { [ANNOTATIONS.modelVersion]: COMMITTED_MODEL_VERSION },
      });
    }
    gateway = await startStandInGateway(stack.kube, NS);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'retraining-'));
    stack.setEnv({
      AzureWebJobsStorage: stack.azurite.connectionString,
      ...promotionTestSettings(stack.kube, gateway, dir),
      RETRAIN_MIN_AUC_GAIN: '0.02',
      RETRAIN_MAX_HAM_FPR_INCREASE: '0.05',
      // A quarter of the 240 feedback messages: the held-out ham must be enough that one hard message is not the whole verdict.
      RETRAIN_HOLDOUT_FRACTION: '0.25',
      RETRAIN_ON_CRITICAL_DRIFT: 'true',
    });
    resetInferenceServices();
    registerRetrainingTrainer(inProcessTrainer({ subsample: 20 }));
    await ensureContainers([CONTAINERS.models, CONTAINERS.baselines, CONTAINERS.feedback]);
    await publishCommittedModel();
    await seedFeedback(FEEDBACK_MESSAGES);
  });

  afterEach(async () => {
    await settlePromotions();
    while (restores.length) restores.pop()!();
    resetInferenceServices();
    await gateway.close();
    await stack.kube.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  return stack;
}

export const testContext = () => new InvocationContext({ functionName: 'test', logHandler: () => undefined });

export async function blobNames(container: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const b of getContainerClient(container).listBlobsFlat({ prefix })) out.push(b.name);
  return out;
}

/** One line of figures for the test log. */
export const recordLine = (r: RetrainingRecord) =>
  `${r.outcome}: champion ${r.champion} AUC ${r.comparison?.champion.metrics.rocAuc.toFixed(4)} FPR ${r.comparison?.champion.metrics.hamFalsePositiveRate.toFixed(4)} recall ${r.comparison?.champion.metrics.spamRecall.toFixed(4)}; challenger ${r.challenger} AUC ${r.comparison?.challenger.metrics.rocAuc.toFixed(4)} FPR ${r.comparison?.challenger.metrics.hamFalsePositiveRate.toFixed(4)} recall ${r.comparison?.challenger.metrics.spamRecall.toFixed(4)} on ${r.comparison?.holdout.rows} rows`;
