// The scaled-out drift run as a Durable Functions orchestration: plan → one activity per log partition (partial
// counts, stored in Blob so the orchestration history does not carry megabytes per partition) → finish (merge,
// statistics, report, alert). functions/driftOrchestrator.ts registers the orchestrator and the activities.
// Deterministic: no clock, no randomness, no I/O; everything that varies comes from the input and the activities'
// results, so replays take the same path. WORKFLOW_BACKEND=in-process runs the same generator in the invoking
// process (shared/platform/workflow/inProcessRunner.ts), partitions a few at a time. Both give the same report for
// the same logs: the statistics depend only on the merged counts, merged in partition order, not completion order.
import type { OrchestrationContext, Task } from 'durable-functions';
import { CONTAINERS } from '../platform/blobLayout';
import { readJsonBlob } from '../platform/blobStorage';
import { defineActivity, whenAll } from '../platform/workflow/activity';
import { InProcessOrchestration, WorkflowLogger } from '../platform/workflow/inProcessRunner';
import {
  countDriftPartition,
  deleteRunPartials,
  DriftPlan,
  DriftRunRequest,
  DriftRunSummary,
  finishDriftRun,
  FinishInput,
  PartitionResult,
  PartitionTask,
  planDriftRun,
  summarizeRun,
} from './driftRun';
import type { DriftReport } from './report';
import { errorMessage } from '../platform/errors';
import { retrainOnCriticalDrift } from '../lifecycle/retraining/service';

export const DRIFT_ORCHESTRATOR = 'driftOrchestrator';
export const DRIFT_PLAN_ACTIVITY = 'driftPlan';
export const DRIFT_COUNT_PARTITION_ACTIVITY = 'driftCountPartition';
export const DRIFT_FINISH_ACTIVITY = 'driftFinish';

export const driftPlanActivity = defineActivity<DriftRunRequest, DriftPlan>(DRIFT_PLAN_ACTIVITY, (request) => planDriftRun(request));

export const driftCountPartitionActivity = defineActivity<PartitionTask, PartitionResult>(DRIFT_COUNT_PARTITION_ACTIVITY, (task) =>
  countDriftPartition(task),
);

/**
 * The full report is in Blob; the orchestration's output is its small summary. A critical report starts the day's
 * retraining when RETRAIN_ON_CRITICAL_DRIFT is set; that start never fails the check.
 */
export const driftFinishActivity = defineActivity<FinishInput, DriftRunSummary>(DRIFT_FINISH_ACTIVITY, async (input, context) => {
  const summary = summarizeRun(await finishDriftRun(input, { logger: context, alert: input.plan.request.alert }));
  if (summary.status === 'critical') {
    const retraining = await retrainOnCriticalDrift(context, {
      env: input.plan.ref.env,
      runId: input.plan.ref.runId,
      at: new Date(input.plan.ref.windowEnd),
    }).catch((err: unknown) => ({ skipped: errorMessage(err) }));
    context.log(
      `drift run ${input.plan.ref.runId}: critical; retraining ${'started' in retraining && retraining.started ? `${retraining.started} started` : `not started (${retraining.skipped})`}`,
    );
  }
  return summary;
});

/** The orchestrator: input is a DriftRunRequest (runId chosen by the starter, so replays and retries agree). */
export function* driftOrchestrator(context: OrchestrationContext): Generator<Task, DriftRunSummary, unknown> {
  const request = context.df.getInput<DriftRunRequest>();
  const plan = yield* driftPlanActivity.call(context, request);
  if (plan.kind !== 'run') return { run_id: request.runId, environment: request.env, status: 'skipped', reason: plan.reason };
  const tasks = plan.partitions.map((partition, index) => driftCountPartitionActivity.task(context, { plan: plan.ref, partition, index }));
  const results = tasks.length ? yield* whenAll(context, tasks) : [];
  const summary = yield* driftFinishActivity.call(context, { plan, results });
  if (!context.df.isReplaying) context.log(`drift run ${request.runId} (${request.env}) finished: ${summary.status}`);
  return summary;
}

export interface InProcessDriftOptions {
  logger?: WorkflowLogger;
  /** Partitions counted at once (downloads overlap with counting); default 2. */
  concurrency?: number;
  /** Called after each partition: done, total, rows so far. */
  onProgress?: (done: number, total: number, rows: number) => void;
}

/** Run the orchestration in this process (WORKFLOW_BACKEND=in-process, the CLI) and wait for its summary. */
export async function runDriftInProcess(request: DriftRunRequest, options: InProcessDriftOptions = {}): Promise<DriftRunSummary> {
  let rows = 0;
  const run = new InProcessOrchestration(DRIFT_ORCHESTRATOR, driftOrchestrator, request, request.runId, {
    logger: options.logger,
    concurrency: options.concurrency,
    onProgress: (activityName, result, done, total) => {
      if (!driftCountPartitionActivity.isResult(activityName, result)) return;
      rows += result.rows;
      options.onProgress?.(done, total, rows);
    },
  });
  try {
    return await run.done;
  } catch (err) {
    // The Durable backend leaves this to the storage lifecycle rule; here the run's own process can tidy up at once.
    await deleteRunPartials(request.runId).catch(() => undefined);
    throw err;
  }
}

/** The full report of a finished run, as its finish activity stored it (the CLI prints and saves it). */
export async function readRunReport(summary: DriftRunSummary): Promise<DriftReport> {
  const path = summary.report?.json;
  if (!path) throw new Error(`drift run ${summary.run_id} has no report: ${summary.status}${summary.reason ? ` (${summary.reason})` : ''}`);
  const stored = await readJsonBlob<DriftReport>(CONTAINERS.driftReports, path);
  if (!stored) throw new Error(`drift report ${CONTAINERS.driftReports}/${path} is missing`);
  return stored.value;
}
