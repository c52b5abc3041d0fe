// The scaled-out drift run: plan → one activity per log partition (partial counts) → finish (merge, statistics,
// report, alert). The workflow is written once, as a generator that yields steps; two drivers run it:
//   - `driftOrchestrator`: the Durable Functions orchestrator (functions/driftOrchestration.ts registers it and the
//     activities), which turns steps into `callActivity` / `Task.all`. Deterministic: no clock, no randomness, no
//     I/O; everything that varies comes from the input and the activities' results, so replays take the same path.
//   - `runDriftInProcess`: where no Durable backend exists (local host, CLI, the timer in 'in-process' mode), the
//     same activity functions are called directly, partitions a few at a time, with progress lines.
// Both give the same report for the same logs: the statistics depend only on the merged counts, and merging is
// ordered by partition index, not by completion order.
import type * as df from 'durable-functions';
import {
  countDriftPartition,
  loadPlannedBaseline,
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
import type { DriftLogger } from './alerts';
import type { DriftReport } from './report';
import { mergePartialCounts, PartialCounts } from './statistics/partialCounts';

export const DRIFT_ORCHESTRATOR = 'driftOrchestration';
export const DRIFT_ACTIVITIES = {
  plan: 'driftPlan',
  countPartition: 'driftCountPartition',
  finish: 'driftFinish',
} as const;

type ActivityName = (typeof DRIFT_ACTIVITIES)[keyof typeof DRIFT_ACTIVITIES];

/** What the workflow asks its driver for: one activity call, or several in parallel. */
export type DriftStep = { call: ActivityName; input: unknown } | { all: { call: ActivityName; input: unknown }[] };

/** The workflow. `store` says where partitions put their partial counts ('blob' under Durable, whose history
 * should not carry megabytes per partition; 'inline' in-process). */
export function* driftWorkflow(request: DriftRunRequest, store: 'blob' | 'inline'): Generator<DriftStep, DriftRunSummary | DriftReport, unknown> {
  const plan = (yield { call: DRIFT_ACTIVITIES.plan, input: request }) as DriftPlan;
  if (plan.kind !== 'run') return { run_id: request.runId, environment: request.env, status: 'skipped', reason: plan.reason } as DriftRunSummary;
  const tasks: PartitionTask[] = plan.partitions.map((partition, index) => ({ plan: plan.ref, partition, index, store }));
  const results = (tasks.length
    ? yield { all: tasks.map((input) => ({ call: DRIFT_ACTIVITIES.countPartition, input })) }
    : []) as PartitionResult[];
  const finish: FinishInput = { plan, results };
  return (yield { call: DRIFT_ACTIVITIES.finish, input: finish }) as DriftRunSummary | DriftReport;
}

/** The Durable orchestrator: input is a DriftRunRequest (runId chosen by the starter, so replays agree). */
export function* driftOrchestrator(context: df.OrchestrationContext): Generator<df.Task, DriftRunSummary, unknown> {
  const request = context.df.getInput() as DriftRunRequest;
  const workflow = driftWorkflow(request, 'blob');
  let next = workflow.next();
  while (!next.done) {
    const step = next.value;
    let result: unknown;
    if ('all' in step) {
      result = yield context.df.Task.all(step.all.map((s) => context.df.callActivity(s.call, s.input)));
    } else {
      result = yield context.df.callActivity(step.call, step.input);
    }
    next = workflow.next(result);
  }
  if (!context.df.isReplaying) context.log(`drift run ${request.runId} (${request.env}) finished: ${(next.value as DriftRunSummary).status}`);
  return next.value as DriftRunSummary;
}

export interface InProcessOptions {
  /** Partitions counted at once (downloads overlap with counting). */
  concurrency?: number;
  logger?: DriftLogger;
  /** False: no alert step (the CLI without --alert); default true. */
  alert?: boolean;
  /** Called after each partition: done, total, rows so far. */
  onProgress?: (done: number, total: number, rows: number) => void;
}

/** Run the workflow in this process with the same activity functions; returns the full report (or a skip). */
export async function runDriftInProcess(request: DriftRunRequest, options: InProcessOptions = {}): Promise<DriftReport | DriftRunSummary> {
  const logger = options.logger ?? console;
  const concurrency = Math.max(1, options.concurrency ?? 2);
  const workflow = driftWorkflow(request, 'inline');
  let next = workflow.next();
  while (!next.done) {
    const step = next.value;
    let result: unknown;
    if ('all' in step) {
      const tasks = step.all.map((s) => s.input as PartitionTask);
      const out: PartitionResult[] = new Array(tasks.length);
      const baseline = await loadPlannedBaseline(tasks[0].plan.baseline);
      // Partials are folded into the first result as soon as every earlier partition is in (partition order, as
      // the Durable finish merges), so memory holds a few partials, not one per partition.
      let folded = 0;
      let merged: PartialCounts | undefined;
      let cursor = 0;
      let done = 0;
      let rows = 0;
      const worker = async () => {
        for (let i = cursor++; i < tasks.length; i = cursor++) {
          out[i] = await countDriftPartition(tasks[i]);
          done++;
          rows += out[i].rows;
          while (folded < tasks.length && out[folded]) {
            merged = merged ? mergePartialCounts(baseline, [merged, out[folded].partial!]) : out[folded].partial!;
            out[folded] = { ...out[folded], partial: undefined };
            folded++;
          }
          options.onProgress?.(done, tasks.length, rows);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, tasks.length) }, worker));
      out[0] = { ...out[0], partial: merged };
      result = out;
    } else if (step.call === DRIFT_ACTIVITIES.plan) {
      result = await planDriftRun(step.input as DriftRunRequest);
    } else if (step.call === DRIFT_ACTIVITIES.finish) {
      result = await finishDriftRun(step.input as FinishInput, { logger, alert: options.alert });
    } else {
      result = await countDriftPartition(step.input as PartitionTask);
    }
    next = workflow.next(result);
  }
  return next.value;
}

/** The activity handlers as Durable registers them (JSON in, small JSON out). */
export const driftActivityHandlers: Record<ActivityName, (input: unknown, logger: DriftLogger) => Promise<unknown>> = {
  [DRIFT_ACTIVITIES.plan]: (input) => planDriftRun(input as DriftRunRequest),
  [DRIFT_ACTIVITIES.countPartition]: (input) => countDriftPartition(input as PartitionTask),
  [DRIFT_ACTIVITIES.finish]: async (input, logger) => summarizeRun(await finishDriftRun(input as FinishInput, { logger })),
};

/**
 * Start the orchestration for a request, once: the run id is the instance id, so a repeated timer tick or event
 * finds the instance already there and does not start a second one (a failed or terminated one is started again).
 */
export async function startDriftOrchestration(client: df.DurableClient, request: DriftRunRequest): Promise<DriftRunSummary> {
  const existing = await client.getStatus(request.runId).catch(() => undefined);
  const restartable = ['Failed', 'Terminated', 'Canceled'];
  if (existing?.runtimeStatus && !restartable.includes(String(existing.runtimeStatus))) {
    return { run_id: request.runId, environment: request.env, status: 'started', reason: `orchestration already ${existing.runtimeStatus}` };
  }
  await client.startNew(DRIFT_ORCHESTRATOR, { instanceId: request.runId, input: request });
  return { run_id: request.runId, environment: request.env, status: 'started', reason: 'Durable orchestration started' };
}
