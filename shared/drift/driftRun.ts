// The drift run, one module for every way a check starts (the timer, a baseline event, the Durable orchestration,
// the CLI). It is three activities that the orchestration (orchestration.ts) strings together:
//   plan            resolve the model version and its active baseline, list the window's log partitions;
//   count partition read one hour partition's rows (compacted Parquet plus raw blobs not compacted yet) and turn
//                   them into mergeable partial counts (per PSI bin and per reference-sample point, NaN/Inf counts);
//   finish          merge the partials in partition order, hand them to `computeDriftReport` (driftScore.ts: PSI,
//                   KS, BH-adjusted p, statuses, score), write the JSON and HTML reports, alert.
// Which environments and windows the timer checks is driftSchedule.ts; the CLI's file mode is
// tools/cli/driftFileComparison.ts.
import { CONTAINERS, driftPartialPath, driftPartialsPrefix, driftReportPath, Environment, LogPartition } from '../platform/blobLayout';
import { getContainerClient, readJsonBlob, writeJsonBlob } from '../platform/blobStorage';
import { FEATURE_NAMES } from '../serving/features/featureList';
import { listWindowPartitions, readPartition, WindowPartition } from '../logs/windowReader';
import { getActiveBaseline, listActiveVersions } from './activeBaseline';
import { alertOnDrift, DriftLogger } from './alerts';
import { Baseline } from './baseline';
import { computeDriftReport } from './driftScore';
import {
  addValues,
  createPartialCounts,
  finalizeDistribution,
  mergePartialCounts,
  PartialCounts,
  referenceDistributions,
} from './statistics/partialCounts';
import { DriftReport, DriftStatus, DriftTrigger } from './report';
import { renderReportHtml } from './reportHtml';
import { updateDriftIndex } from './reportIndex';
import { deleteJsonBlobIfUnchanged } from './stateStore';
import { checkpoint } from '../platform/cooperative';
import { errorMessage } from '../platform/errors';

export interface DriftRunRequest {
  env: Environment;
  modelName: string;
  /** Default: the version the environment served in the window (`servedVersion`). */
  modelVersion?: string;
  /** End of the window (ISO); the window is [end − hours, end), or [windowStart, end) when that is given. */
  windowEnd: string;
  windowHours: number;
  /** Explicit start (the replay compares two phases that lie minutes apart). */
  windowStart?: string;
  trigger: DriftTrigger;
  /** Chosen by the starter (deterministic for timers and baseline events), so retries overwrite, not duplicate. */
  runId: string;
  /** False: no alert step (the CLI without --alert); default true. */
  alert?: boolean;
}

/** The baseline a run compares with: enough to load it again in any activity. */
export interface BaselineRef {
  model: string;
  version: string;
  sha256: string;
  path: string;
  activatedAt: string;
}

export type DriftPlan =
  | {
      kind: 'run';
      request: DriftRunRequest & { modelVersion: string };
      ref: PlanRef;
      partitions: Pick<LogPartition, 'env' | 'date' | 'hour'>[];
    }
  | { kind: 'skip'; request: DriftRunRequest; reason: string };

export interface PlanRef {
  runId: string;
  env: Environment;
  baseline: BaselineRef;
  windowStart: string;
  windowEnd: string;
}

export interface PartitionTask {
  plan: PlanRef;
  partition: Pick<LogPartition, 'env' | 'date' | 'hour'>;
  index: number;
}

export interface PartitionResult {
  index: number;
  /** Rows of the compared model version. */
  rows: number;
  /** Rows of other models or versions in the partition, by `name version`. */
  otherVersions: Record<string, number>;
  /** The partition's partial counts in drift-reports/ (scratch, deleted when the report is stored). */
  partialPath: string;
}

export interface FinishInput {
  plan: Extract<DriftPlan, { kind: 'run' }>;
  results: PartitionResult[];
}

/** The small result of a run (Durable output, function logs, the baseline event's result). */
export interface DriftRunSummary {
  run_id: string;
  environment: string | null;
  /** 'failed': the check threw (the timer reports it and goes on with the other environments). */
  status: DriftStatus | 'skipped' | 'started' | 'failed';
  score?: number | null;
  rows?: number;
  drifted?: string[];
  alert?: string;
  report?: { json: string | null; html: string | null };
  reason?: string;
}

const FEATURE_COLUMNS: readonly string[] = FEATURE_NAMES;

// ---------------------------------------------------------------------------------------------------------------
// Activity 1: plan

/**
 * The version a check without one compares: the one the environment served most in the newest hour of the window
 * that holds rows of the model, when that version has an active baseline; else the most recently activated
 * baseline's. The newest activation alone would be wrong for production while a candidate is in staging: every
 * production row would be "another version" and production would go unmonitored until the promotion. Reads one
 * column pair of the newest hours only, and nothing when no baseline is active.
 */
async function servedVersion(
  model: string,
  env: Environment,
  partitions: readonly WindowPartition[],
  start: Date,
  end: Date,
): Promise<string | undefined> {
  // Activation order, oldest first: a version's rank breaks ties between versions served equally often.
  const activated = await listActiveVersions(model);
  const rank = new Map(activated.map((v, i) => [v.version, i]));
  if (rank.size === 0) return undefined;
  for (const p of [...partitions].reverse()) {
    let modelRows = 0;
    const rows = new Map<string, number>();
    for await (const batch of readPartition(p, start, end, { columns: ['model_name', 'model_version'] })) {
      const names = batch.text.model_name!;
      const versions = batch.text.model_version!;
      for (let i = 0; i < batch.rowCount; i++) {
        if (names[i] !== model) continue;
        modelRows++;
        const v = versions[i];
        if (v !== null && rank.has(v)) rows.set(v, (rows.get(v) ?? 0) + 1);
      }
      await checkpoint();
    }
    // Ties go to the version activated last, so the choice does not depend on row order.
    const ranked = [...rows].sort((a, b) => b[1] - a[1] || rank.get(b[0])! - rank.get(a[0])!);
    if (ranked.length) return ranked[0][0];
    if (modelRows > 0) break; // it serves a version without an active baseline now: older hours would mislead
  }
  return activated.at(-1)!.version; // the most recently activated
}

export async function planDriftRun(request: DriftRunRequest): Promise<DriftPlan> {
  const end = new Date(request.windowEnd);
  const start = request.windowStart ? new Date(request.windowStart) : new Date(end.getTime() - request.windowHours * 3600_000);
  if (!(start < end)) throw new RangeError(`drift window is empty: ${start.toISOString()} .. ${end.toISOString()}`);
  const partitions = await listWindowPartitions(request.env, start, end);
  const version = request.modelVersion ?? (await servedVersion(request.modelName, request.env, partitions, start, end));
  if (!version) return { kind: 'skip', request, reason: `no baseline has been activated for ${request.modelName}` };
  const active = await getActiveBaseline(request.modelName, version);
  if (!active) return { kind: 'skip', request, reason: `no active baseline for ${request.modelName} ${version}` };
  return {
    kind: 'run',
    request: { ...request, modelVersion: version },
    ref: {
      runId: request.runId,
      env: request.env,
      baseline: {
        model: request.modelName,
        version,
        sha256: active.record.sha256,
        path: active.path,
        activatedAt: active.record.activated_at,
      },
      windowStart: start.toISOString(),
      windowEnd: end.toISOString(),
    },
    partitions: partitions.map((p) => ({ env: p.env, date: p.date, hour: p.hour })),
  };
}

/** The baseline a plan named (by hash), even if a newer one was activated since. */
export async function loadPlannedBaseline(ref: BaselineRef): Promise<Baseline> {
  const active = await getActiveBaseline(ref.model, ref.version);
  // A newer activation may have happened since the plan; the run stays with the baseline it planned with.
  if (active && active.record.sha256 === ref.sha256) return active.baseline;
  const stored = await readJsonBlob<Baseline>(CONTAINERS.driftReports, ref.path);
  if (!stored) throw new Error(`baseline copy ${ref.path} is missing`);
  return stored.value;
}

// ---------------------------------------------------------------------------------------------------------------
// Activity 2: count one partition

export async function countDriftPartition(task: PartitionTask): Promise<PartitionResult> {
  const baseline = await loadPlannedBaseline(task.plan.baseline);
  const partial = createPartialCounts(baseline);
  const names = baseline.features.map((f) => f.name);
  const unknown = names.filter((n) => !FEATURE_COLUMNS.includes(n));
  if (unknown.length) throw new Error(`baseline features not in the log schema: ${unknown.join(', ')}`);
  const columns = [...names, 'probability', 'model_name', 'model_version'];
  const from = new Date(task.plan.windowStart);
  const to = new Date(task.plan.windowEnd);
  const { model, version } = task.plan.baseline;
  const otherVersions: Record<string, number> = {};
  let rows = 0;
  for await (const batch of readPartition(task.partition, from, to, { columns })) {
    const modelNames = batch.text.model_name!;
    const versions = batch.text.model_version!;
    let keep: number[] | undefined; // row indices of the compared version, when the batch is mixed
    for (let i = 0; i < batch.rowCount; i++) {
      const same = modelNames[i] === model && versions[i] === version;
      if (!same) {
        const key = `${modelNames[i]} ${versions[i]}`;
        otherVersions[key] = (otherVersions[key] ?? 0) + 1;
        keep ??= Array.from({ length: i }, (_, k) => k);
      } else if (keep) keep.push(i);
    }
    const pick = <T extends Float32Array | Float64Array>(values: T): ArrayLike<number> =>
      keep ? Float64Array.from(keep, (i) => values[i]) : values.subarray(0, batch.rowCount);
    // One column of a batch is a few milliseconds of binary searches; a whole batch, 51 columns, would hold the
    // event loop (and the host's other requests) for a tenth of a second or more.
    for (const [j, name] of names.entries()) {
      addValues(baseline, partial, j, pick(batch.features[name as keyof typeof batch.features]!));
      await checkpoint();
    }
    addValues(baseline, partial, names.length, pick(batch.probability!));
    await checkpoint();
    rows += keep ? keep.length : batch.rowCount;
  }
  // To Blob, not in the result: under Durable a result goes into the orchestration history, megabytes per partition.
  const partialPath = driftPartialPath(task.plan.runId, task.index);
  await writeJsonBlob(CONTAINERS.driftReports, partialPath, partial);
  return { index: task.index, rows, otherVersions, partialPath };
}

// ---------------------------------------------------------------------------------------------------------------
// Activity 3: finish

export interface FinishOptions {
  logger?: DriftLogger;
  /** Skip the alert step (replays of old windows, tests of the statistics). */
  alert?: boolean;
}

export async function finishDriftRun(input: FinishInput, options: FinishOptions = {}): Promise<DriftReport> {
  const { plan } = input;
  const baseline = await loadPlannedBaseline(plan.ref.baseline);
  const results = [...input.results].sort((a, b) => a.index - b.index);
  // Folded one partition at a time, in partition order: memory holds two partials, whatever the window's size.
  let merged = createPartialCounts(baseline);
  for (const r of results) {
    const stored = await readJsonBlob<PartialCounts>(CONTAINERS.driftReports, r.partialPath);
    if (!stored) throw new Error(`partial counts ${r.partialPath} are missing`);
    merged = mergePartialCounts(baseline, [merged, stored.value]);
    await checkpoint();
  }
  const otherVersions: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.otherVersions)) otherVersions[k] = (otherVersions[k] ?? 0) + v;
  const end = new Date(plan.ref.windowEnd);
  const runId = plan.ref.runId;
  const env = plan.ref.env;
  // The KS p-values are the costly part (the exact path up to 10,000 values a side): one distribution at a time.
  const finalized = [];
  for (const [i, ref] of referenceDistributions(baseline).entries()) {
    finalized.push(finalizeDistribution(ref, merged, i));
    await checkpoint();
  }
  const report = computeDriftReport(
    baseline,
    merged,
    {
      runId,
      createdAt: end,
      trigger: plan.request.trigger,
      environment: env,
      window: {
        start: plan.ref.windowStart,
        end: plan.ref.windowEnd,
        hours: (end.getTime() - new Date(plan.ref.windowStart).getTime()) / 3600_000,
      },
      baselineSource: `${CONTAINERS.driftReports}/${plan.ref.baseline.path}`,
      baselineSha256: plan.ref.baseline.sha256,
      activatedAt: plan.ref.baseline.activatedAt,
      currentSource: 'logs',
      otherModelVersions: otherVersions,
      partitions: results.length,
    },
    finalized,
  );
  report.paths = { json: driftReportPath(env, end, runId, 'json'), html: driftReportPath(env, end, runId, 'html') };
  if (options.alert !== false) report.alert = await alertOnDrift(report, { logger: options.logger });
  else report.alert = { ...report.alert, action: 'disabled', reason: 'run without the alert step (CLI without --alert)' };
  await writeReport(report);
  // The index is for people browsing the history; the report is stored, so the run has done its job without it.
  await updateDriftIndex(report).catch((err: unknown) =>
    (options.logger ?? console).warn(`drift run ${runId}: the index of reports was not updated: ${errorMessage(err)}`),
  );
  // Partials are scratch: drop them once the report that depends on them is stored.
  for (const r of results) {
    await deleteJsonBlobIfUnchanged(CONTAINERS.driftReports, r.partialPath, '*').catch(() => undefined);
  }
  return report;
}

/** Delete what a run left of its partial counts (a run that failed before its report was stored). */
export async function deleteRunPartials(runId: string): Promise<void> {
  const container = getContainerClient(CONTAINERS.driftReports);
  for await (const blob of container.listBlobsFlat({ prefix: driftPartialsPrefix(runId) })) {
    await container.deleteBlob(blob.name).catch(() => undefined);
  }
}

export async function writeReport(report: DriftReport): Promise<void> {
  if (!report.paths.json || !report.paths.html) throw new Error('report paths are not set');
  // HTML first: a JSON report that exists always has its page.
  await writeJsonBlob(CONTAINERS.driftReports, report.paths.html, renderReportHtml(report), undefined, 'text/html; charset=utf-8');
  await writeJsonBlob(CONTAINERS.driftReports, report.paths.json, report);
}

export function summarizeRun(result: DriftReport | DriftRunSummary): DriftRunSummary {
  if (!('kind' in result)) return result;
  return {
    run_id: result.run_id,
    environment: result.environment,
    status: result.status,
    score: result.score,
    rows: result.rows.current,
    drifted: result.summary.drifted,
    alert: result.alert.action,
    report: result.paths,
  };
}
