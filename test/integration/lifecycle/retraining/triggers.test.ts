// What starts a retraining besides an admin: a drift check that turns critical, through a real drift run on the
// inference logs of the corpus's test period (the newer mail the committed model was never trained on), and the
// timer. Each starts one run per day or schedule slot, however often it fires (test/helpers/retrainingStack.ts).
import { Timer } from '@azure/functions';
import fs from 'node:fs';
import { retrainTimer } from '../../../../functions/retrainTimer';
import { baselinePath, CONTAINERS, Environment, retrainingRecordPath } from '../../../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient } from '../../../../shared/platform/blobStorage';
import { getConfig } from '../../../../shared/platform/config';
import { activateBaselineUpload } from '../../../../shared/drift/activeBaseline';
import { DriftRunRequest } from '../../../../shared/drift/driftRun';
import { runDriftInProcess } from '../../../../shared/drift/orchestration';
import { InferenceLogRecord } from '../../../../shared/logs/logSchema';
import { closeParquetEngine } from '../../../../shared/logs/parquet';
import {
  baselineFile,
  COMMITTED_MODEL_VERSION,
  committedModelDir,
  loadModelDirectory,
  MODEL_NAME,
} from '../../../../shared/model/modelArtifacts';
import { driftRetrainingId, localRetraining } from '../../../../shared/lifecycle/retraining/service';
import { parseEmail } from '../../../../shared/serving/features/email';
import { UNKNOWN_SENDER } from '../../../../shared/serving/features/featureList';
import { computeFeatures } from '../../../../shared/serving/features/transformer';
import { senderDomainHash } from '../../../../shared/serving/predict/senderHash';
import { loadCorpus, timeForwardSplit } from '../../../../training/corpus';
import { trainingSenderStats } from '../../../../training/trainingSenderStats';
import { captureLogger } from '../../../helpers/driftFixtures';
import { logRecords } from '../../../helpers/logStorage';
import { testContext, useRetrainingStack } from '../../../helpers/retrainingStack';

jest.setTimeout(180_000);

const stack = useRetrainingStack();
// The drift runs read the logs through DuckDB.
afterAll(() => closeParquetEngine());

const HOUR = 3600_000;
/** The end of the drift windows: the retraining a critical report starts is that day's. */
const WINDOW_END = new Date('2026-11-26T06:00:00.000Z');

/**
 * The test period's mail as the gateway would log it in `env` over the three hours before WINDOW_END: features with
 * the committed model's token table and the sender statistics the store holds after training, the model's own
 * probability and decision.
 */
async function testPeriodLogs(env: Environment): Promise<InferenceLogRecord[]> {
  const model = await loadModelDirectory(committedModelDir());
  const senders = new Map((await trainingSenderStats(getConfig().senderHashKey)).rows.map((r) => [r.entity, r.features]));
  const mail = timeForwardSplit(loadCorpus()).test;
  const start = WINDOW_END.getTime() - 3 * HOUR;
  const records: InferenceLogRecord[] = [];
  try {
    for (const [i, message] of mail.entries()) {
      const email = await parseEmail({ raw: message.raw });
      const senderKey = email.senderDomain ? senderDomainHash(email.senderDomain) : null;
      const features = computeFeatures(email, model.tokens, (senderKey && senders.get(senderKey)) || UNKNOWN_SENDER);
      const [, probability] = await model.onnx.predict(features);
      records.push({
        time: new Date(start + Math.floor((i * 3 * HOUR) / mail.length)).toISOString(),
        request_id: `${env}-test-period-${i}`,
        environment: env,
        model_name: MODEL_NAME,
        model_version: COMMITTED_MODEL_VERSION,
        features,
        probability,
        prediction: probability >= model.card.threshold.value ? 'spam' : 'ham',
        latency_ms: 5,
        degraded: false,
        sender_key: senderKey,
      });
    }
  } finally {
    await model.onnx.close();
  }
  return records;
}

function driftRequest(env: Environment, runId: string): DriftRunRequest {
  return {
    env,
    modelName: MODEL_NAME,
    modelVersion: COMMITTED_MODEL_VERSION,
    windowEnd: WINDOW_END.toISOString(),
    windowHours: 24,
    trigger: 'timer',
    runId,
    alert: false,
  };
}

/** A drift run of `env` in this process; its summary and what its finish step logged. */
async function driftRun(env: Environment, runId: string) {
  const logger = captureLogger();
  const summary = await runDriftInProcess(driftRequest(env, runId), { logger });
  return { summary, lines: logger.lines.join('\n') };
}

test('a critical drift run starts the retraining of its environment and day once, however many critical runs follow', async () => {
  stack.setEnv({ DRIFT_MIN_ROWS: '100', ALERT_WEBHOOK_URL: undefined });
  await ensureContainers(Object.values(CONTAINERS));
  const baseline = fs.readFileSync(baselineFile(COMMITTED_MODEL_VERSION));
  await activateBaselineUpload(baselinePath(MODEL_NAME, COMMITTED_MODEL_VERSION), baseline, new Date(WINDOW_END.getTime() - 7 * 24 * HOUR));
  const production = await testPeriodLogs('production');
  await logRecords(production);
  await logRecords(production.map((r) => ({ ...r, environment: 'staging' as const, request_id: `staging-${r.request_id}` })));

  const id = driftRetrainingId('production', WINDOW_END);
  const first = await driftRun('production', 'drift-production-a');
  console.log(
    `test-period logs: ${first.summary.rows} rows, drift ${first.summary.status} (score ${first.summary.score}), drifted: ${first.summary.drifted?.join(', ')}`,
  );
  expect(first.summary.status).toBe('critical');
  expect(first.lines).toContain(`retraining ${id} started`);
  const run = localRetraining(id)!;
  expect(run).toBeDefined();

  // The same day in production again: the day's run exists. Staging's is its own, held up only by the running one.
  const second = await driftRun('production', 'drift-production-b');
  expect(second.summary.status).toBe('critical');
  expect(second.lines).toContain(`retraining not started (${id} exists already)`);
  const staging = await driftRun('staging', 'drift-staging-a');
  expect(staging.summary.status).toBe('critical');
  expect(staging.lines).toContain(`retraining not started (retraining ${id} is still running`);

  const record = await run.done;
  expect(record).toMatchObject({ runId: id, trigger: 'drift', requestedBy: 'drift run drift-production-a' });
  expect(['promotion_started', 'rejected']).toContain(record.outcome);
  // Finished, it still counts for its day.
  const third = await driftRun('production', 'drift-production-c');
  expect(third.lines).toContain(`retraining not started (${id} exists already)`);
});

function timerAt(next: string): Timer {
  return { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next, lastUpdated: '' } };
}

test('the timer starts one run per schedule slot, and only when RETRAIN_TIMER_ENABLED', async () => {
  const slot = '2026-11-22T03:00:00.000Z';
  const id = 'retrain-timer-20261122T030000Z';
  const recordBlob = getContainerClient(CONTAINERS.models).getBlobClient(retrainingRecordPath(MODEL_NAME, id));
  expect(await retrainTimer(timerAt(slot), testContext())).toEqual({ skipped: 'RETRAIN_TIMER_ENABLED is false' });
  expect(localRetraining(id)).toBeUndefined();

  stack.setEnv({ RETRAIN_TIMER_ENABLED: 'true' });
  // The slot delivered twice at once (two hosts, or a retry): one run.
  const ticks = await Promise.all([retrainTimer(timerAt(slot), testContext()), retrainTimer(timerAt(slot), testContext())]);
  expect(ticks.filter((t) => t.started)).toEqual([{ started: id }]);
  expect(ticks.filter((t) => t.skipped)).toHaveLength(1);
  const record = await localRetraining(id)!.done;
  expect(record).toMatchObject({ runId: id, trigger: 'timer', requestedBy: 'retrainTimer', cutoff: slot });
  expect(['promotion_started', 'rejected']).toContain(record.outcome);
  expect(await recordBlob.exists()).toBe(true);

  // Delivered again after it ran: not run twice.
  const again = await retrainTimer(timerAt(slot), testContext());
  expect(again).toEqual({ skipped: `retraining ${id} has run already` });
});
