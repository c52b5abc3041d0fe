// The drift run, one module for every way a check starts (the timer, a baseline event, the Durable orchestration,
// the CLI). It is three activities that the orchestration (orchestration.ts) strings together:
//   plan            resolve the model version and its active baseline, list the window's log partitions;
//   count partition read one hour partition's rows (compacted Parquet plus raw blobs not compacted yet) and turn
//                   them into mergeable partial counts (per PSI bin and per reference-sample point, NaN/Inf counts);
//   finish          merge the partials in partition order, compute PSI, KS D and p, Benjamini-Hochberg adjusted p
//                   and the statuses, write the JSON and HTML reports, alert.
// `computeDriftReport` is the pure part (merged counts → report) that the CLI's file mode uses as well.
//
// Decision rules (docs/drift.md): a distribution drifts only when BOTH its effect size and its significance say so:
// PSI ≥ 0.1 (warning) or > 0.2 (critical) on the baseline's frozen bins AND BH-adjusted KS p ≤ alpha. Fewer than
// DRIFT_MIN_ROWS finite values give `insufficient_data`, never an alarm. The run is critical when the prediction
// distribution is critical, when at least DRIFT_CRITICAL_FEATURE_SHARE of the features are critical, or when the
// score (mean significant PSI, each capped at 1) exceeds 0.2; a warning when any feature or the prediction drifts or the score reaches 0.1.
import path from 'node:path';
import { mean } from 'simple-statistics';
import { compactTime, CONTAINERS, driftPartialPath, driftReportPath, Environment, isEnvironment, LogPartition } from '../blobLayout';
import { readJsonBlob, writeJsonBlob } from '../blobStorage';
import { getConfig } from '../config';
import { FEATURE_NAMES } from '../features/featureList';
import { listWindowPartitions, readPartition } from '../logs/windowReader';
import { getActiveBaseline, latestActiveVersion } from './activeBaseline';
import { alertOnDrift, DriftLogger } from './alerts';
import { Baseline, buildBaseline, PREDICTION_DISTRIBUTION_NAME } from './baseline';
import { benjaminiHochberg } from './multipleTesting';
import {
  addValues,
  createPartialCounts,
  currentSummary,
  finalizeDistribution,
  mergePartialCounts,
  PartialCounts,
  referenceDistributions,
} from './partialCounts';
import { PSI_CRITICAL, PSI_WARNING } from './psi';
import {
  codeVersion,
  DistributionDrift,
  DRIFT_REPORT_SCHEMA_VERSION,
  DriftReport,
  DriftStatus,
  DriftThresholds,
  DriftTrigger,
} from './report';
import { renderReportHtml } from './reportHtml';
import { deleteJsonBlobIfUnchanged } from './stateStore';

export interface DriftRunRequest {
  env: Environment;
  modelName: string;
  /** Default: the most recently activated baseline's version. */
  modelVersion?: string;
  /** End of the window (ISO); the window is [end − hours, end), or [windowStart, end) when that is given. */
  windowEnd: string;
  windowHours: number;
  /** Explicit start (the replay compares two phases that lie minutes apart). */
  windowStart?: string;
  trigger: DriftTrigger;
  /** Chosen by the starter (deterministic for timers and baseline events), so retries overwrite, not duplicate. */
  runId: string;
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
  store: 'blob' | 'inline';
}

export interface PartitionResult {
  index: number;
  /** Rows of the compared model version. */
  rows: number;
  /** Rows of other models or versions in the partition, by `name version`. */
  otherVersions: Record<string, number>;
  partial?: PartialCounts;
  partialPath?: string;
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

export function driftEnvironments(): Environment[] {
  const list = getConfig()
    .driftEnvironments.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((e) => !isEnvironment(e));
  if (bad.length) throw new RangeError(`DRIFT_ENVIRONMENTS names unknown environments: ${bad.join(', ')}`);
  return list as Environment[];
}

export function driftThresholds(): DriftThresholds {
  const c = getConfig();
  return { psi_warning: PSI_WARNING, psi_critical: PSI_CRITICAL, alpha: c.driftAlpha, min_rows: c.driftMinRows, critical_feature_share: c.driftCriticalFeatureShare };
}

// ---------------------------------------------------------------------------------------------------------------
// Activity 1: plan

export async function planDriftRun(request: DriftRunRequest): Promise<DriftPlan> {
  const version = request.modelVersion ?? (await latestActiveVersion(request.modelName));
  if (!version) return { kind: 'skip', request, reason: `no baseline has been activated for ${request.modelName}` };
  const active = await getActiveBaseline(request.modelName, version);
  if (!active) return { kind: 'skip', request, reason: `no active baseline for ${request.modelName} ${version}` };
  const end = new Date(request.windowEnd);
  const start = request.windowStart ? new Date(request.windowStart) : new Date(end.getTime() - request.windowHours * 3600_000);
  if (!(start < end)) throw new RangeError(`drift window is empty: ${start.toISOString()} .. ${end.toISOString()}`);
  const partitions = await listWindowPartitions(request.env, start, end);
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
    names.forEach((name, j) => addValues(baseline, partial, j, pick(batch.features[name as keyof typeof batch.features]!)));
    addValues(baseline, partial, names.length, pick(batch.probability!));
    rows += keep ? keep.length : batch.rowCount;
  }
  const result: PartitionResult = { index: task.index, rows, otherVersions };
  if (task.store === 'inline') return { ...result, partial };
  const partialPath = driftPartialPath(task.plan.runId, task.index);
  await writeJsonBlob(CONTAINERS.driftReports, partialPath, partial);
  return { ...result, partialPath };
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
    let partial = r.partial;
    if (!partial && r.partialPath) {
      const stored = await readJsonBlob<PartialCounts>(CONTAINERS.driftReports, r.partialPath);
      if (!stored) throw new Error(`partial counts ${r.partialPath} are missing`);
      partial = stored.value;
    }
    if (partial) merged = mergePartialCounts(baseline, [merged, partial]);
  }
  const otherVersions: Record<string, number> = {};
  for (const r of results) for (const [k, v] of Object.entries(r.otherVersions)) otherVersions[k] = (otherVersions[k] ?? 0) + v;
  const end = new Date(plan.ref.windowEnd);
  const runId = plan.ref.runId;
  const env = plan.ref.env;
  const report = computeDriftReport(baseline, merged, {
    runId,
    createdAt: end,
    trigger: plan.request.trigger,
    environment: env,
    window: { start: plan.ref.windowStart, end: plan.ref.windowEnd, hours: (end.getTime() - new Date(plan.ref.windowStart).getTime()) / 3600_000 },
    baselineSource: `${CONTAINERS.driftReports}/${plan.ref.baseline.path}`,
    baselineSha256: plan.ref.baseline.sha256,
    activatedAt: plan.ref.baseline.activatedAt,
    currentSource: 'logs',
    otherModelVersions: otherVersions,
    partitions: results.length,
  });
  report.paths = { json: driftReportPath(env, end, runId, 'json'), html: driftReportPath(env, end, runId, 'html') };
  if (options.alert !== false) report.alert = await alertOnDrift(report, { logger: options.logger });
  else report.alert = { ...report.alert, action: 'disabled', reason: 'run without the alert step (CLI without --alert)' };
  await writeReport(report);
  // Partials are scratch: drop them once the report that depends on them is stored.
  for (const r of results) {
    if (r.partialPath) await deleteJsonBlobIfUnchanged(CONTAINERS.driftReports, r.partialPath, '*').catch(() => undefined);
  }
  return report;
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

// ---------------------------------------------------------------------------------------------------------------
// Statistics → report (pure)

export interface ReportContext {
  runId: string;
  createdAt: Date;
  trigger: DriftTrigger;
  environment: string | null;
  window: DriftReport['window'];
  baselineSource: string;
  baselineSha256: string | null;
  activatedAt: string | null;
  currentSource: string;
  otherModelVersions?: Record<string, number>;
  partitions?: number;
  thresholds?: DriftThresholds;
  /** False when the current data has no prediction column (file mode): the report's `prediction` is null. */
  hasPrediction?: boolean;
}

/** Largest contribution of one feature to the score. PSI has no upper bound (a feature that is constant in the
 * reference reaches 7-10 as soon as it moves); beyond 1 it only says "a different distribution", and uncapped,
 * one such feature would decide the run's status through the mean, against the rule that one drifted feature
 * alone is a warning. */
export const SCORE_PSI_CAP = 1;

function statusOf(psi: number | null, pAdjusted: number | null, finite: number, t: DriftThresholds): DriftStatus {
  if (finite < t.min_rows || psi === null || pAdjusted === null) return 'insufficient_data';
  if (!(pAdjusted <= t.alpha)) return 'healthy';
  if (psi > t.psi_critical) return 'critical';
  if (psi >= t.psi_warning) return 'warning';
  return 'healthy';
}

/**
 * Merged counts → the report: statistics per distribution, BH adjustment over the features, statuses, score and
 * overall status. The alert outcome is filled in later by the caller (file mode has none).
 */
export function computeDriftReport(baseline: Baseline, merged: PartialCounts, ctx: ReportContext): DriftReport {
  const t = ctx.thresholds ?? driftThresholds();
  const refs = referenceDistributions(baseline);
  const finals = refs.map((ref, i) => ({ ref, fin: finalizeDistribution(ref, merged, i) }));
  const featureFinals = finals.slice(0, baseline.features.length);
  const predictionFinal = finals[finals.length - 1];

  // BH over the features that have a p-value; the prediction is one test of its own.
  const tested = featureFinals.map((f, i) => ({ i, p: f.fin.ks?.pvalue })).filter((x): x is { i: number; p: number } => x.p !== undefined);
  const adjusted = new Map<number, number>();
  benjaminiHochberg(tested.map((x) => x.p)).forEach((q, k) => adjusted.set(tested[k].i, q));

  const toDrift = (f: (typeof finals)[number], pAdjusted: number | null): DistributionDrift => {
    const { ref, fin } = f;
    const psi = fin.psi;
    return {
      name: ref.name,
      psi,
      ks: {
        statistic: fin.ks?.statistic ?? null,
        pvalue: fin.ks?.pvalue ?? null,
        pvalue_adjusted: pAdjusted,
        method: fin.ks?.method ?? null,
      },
      status: statusOf(psi, pAdjusted, fin.counts.finite, t),
      significant: pAdjusted !== null && pAdjusted <= t.alpha,
      rows: { current: fin.counts.rows, current_finite: fin.counts.finite, reference: ref.count, reference_sample: ref.sample.length },
      non_finite: { nan: fin.counts.nan, pos_inf: fin.counts.posInf, neg_inf: fin.counts.negInf },
      reference_non_finite: { nan: ref.nonFinite.nan, pos_inf: ref.nonFinite.posInf, neg_inf: ref.nonFinite.negInf },
      bins: {
        edges: ref.psi.edges,
        reference: ref.psi.proportions,
        current: fin.counts.finite ? fin.counts.bins.map((c) => c / fin.counts.finite) : fin.counts.bins.map(() => 0),
        current_counts: fin.counts.bins,
      },
      reference_stats: { mean: ref.mean, std: ref.std, min: ref.min, max: ref.max },
      current_stats: currentSummary(fin.counts) ?? { mean: null, std: null, min: null, max: null },
    };
  };
  const features = featureFinals.map((f, i) => toDrift(f, adjusted.get(i) ?? null));
  const prediction = ctx.hasPrediction === false ? null : toDrift(predictionFinal, predictionFinal.fin.ks?.pvalue ?? null);

  const currentRows = Math.max(0, ...finals.slice(0, ctx.hasPrediction === false ? baseline.features.length : finals.length).map((f) => f.fin.counts.rows));
  const judged = features.filter((f) => f.status !== 'insufficient_data');
  const count = (s: DriftStatus) => features.filter((f) => f.status === s).length;
  let status: DriftStatus;
  let score: number | null;
  if (currentRows < t.min_rows || judged.length === 0) {
    status = 'insufficient_data';
    score = null;
  } else {
    score = mean(judged.map((f) => (f.significant ? Math.min(f.psi!, SCORE_PSI_CAP) : 0)));
    const criticalShare = count('critical') / judged.length;
    const anyDrift = count('critical') + count('warning') > 0;
    if (prediction?.status === 'critical' || (criticalShare > 0 && criticalShare >= t.critical_feature_share) || score > t.psi_critical) status = 'critical';
    else if (anyDrift || prediction?.status === 'warning' || score >= t.psi_warning) status = 'warning';
    else status = 'healthy';
  }
  const drifted = features
    .filter((f) => f.status === 'warning' || f.status === 'critical')
    .sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0))
    .map((f) => f.name);

  return {
    schema_version: DRIFT_REPORT_SCHEMA_VERSION,
    kind: 'drift',
    run_id: ctx.runId,
    created_at: ctx.createdAt.toISOString(),
    trigger: ctx.trigger,
    status,
    score,
    environment: ctx.environment,
    window: ctx.window,
    rows: { current: currentRows, reference: baseline.sampling.referenceRows, other_model_versions: ctx.otherModelVersions ?? {}, partitions: ctx.partitions ?? 0 },
    model: { name: baseline.model.name, version: baseline.model.version },
    baseline: {
      source: ctx.baselineSource,
      sha256: ctx.baselineSha256,
      created_at: baseline.createdAt,
      activated_at: ctx.activatedAt,
      reference_rows: baseline.sampling.referenceRows,
      sample_size: baseline.sampling.sampleSize,
    },
    current_source: ctx.currentSource,
    code_version: codeVersion(),
    thresholds: t,
    summary: {
      features: features.length,
      healthy: count('healthy'),
      warning: count('warning'),
      critical: count('critical'),
      insufficient_data: count('insufficient_data'),
      drifted,
    },
    prediction,
    features,
    alert: { action: 'disabled', reason: 'not evaluated', previous_status: null, webhook: false, alerted_run_id: null, alerted_at: null },
    paths: { json: null, html: null },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Scheduled checks (the timer)

/**
 * The schedule slot a timer invocation belongs to: the time the tick was scheduled for, the same on every retry of
 * that tick. In Azure the host passes it as `scheduleStatus.next` while the tick runs (it names the occurrence being
 * invoked, not the one after: azure-functions-dotnet-worker#954), a past-due tick included. Where that is missing
 * or lies ahead (the local host passes the following tick), the slot is the current minute.
 */
export function scheduleSlot(scheduledNext: string | undefined, now: Date): Date {
  const scheduled = scheduledNext ? new Date(scheduledNext) : undefined;
  if (scheduled && Number.isFinite(scheduled.getTime()) && scheduled.getTime() <= now.getTime()) return scheduled;
  return new Date(Math.floor(now.getTime() / 60000) * 60000);
}

/** `timer-20261126T060000Z-production`: one run per schedule slot and environment, so a retried tick overwrites its
 * own report and the alert state sees the same run id. */
export function scheduledRunId(env: Environment, slot: Date): string {
  const minute = new Date(Math.floor(slot.getTime() / 60000) * 60000);
  return `timer-${compactTime(minute)}-${env}`;
}

/** The scheduled checks of a slot (see scheduleSlot): one per environment, over the window ending at the slot. */
export function scheduledRequests(slot: Date): DriftRunRequest[] {
  const c = getConfig();
  const end = new Date(Math.floor(slot.getTime() / 60000) * 60000).toISOString();
  return driftEnvironments().map((env) => ({
    env,
    modelName: c.driftModelName,
    windowEnd: end,
    windowHours: c.driftWindowHours,
    trigger: 'timer' as const,
    runId: scheduledRunId(env, slot),
  }));
}

// ---------------------------------------------------------------------------------------------------------------
// File mode (the CLI): two in-memory datasets, every row, no baseline blob

export interface ColumnsComparison {
  report: DriftReport;
  /** Columns compared (in reference order), and the ones only one side has. */
  compared: string[];
  onlyReference: string[];
  onlyCurrent: string[];
  /** Columns without a single finite reference value (nothing to bin). */
  noFiniteReference: string[];
}

/**
 * Compare two datasets column by column: the reference becomes a baseline whose KS sample is every finite value
 * (so D and p equal scipy.stats.ks_2samp on the finite values of both files), and the current side is counted in
 * one partial. A `probability` column on both sides is the prediction distribution.
 */
export function compareColumns(
  reference: { source: string; columns: Map<string, Float64Array>; rows: number },
  current: { source: string; columns: Map<string, Float64Array>; rows: number },
  options: { runId: string; createdAt: Date; thresholds?: DriftThresholds },
): ColumnsComparison {
  const isPrediction = (n: string) => n === PREDICTION_DISTRIBUTION_NAME;
  const refNames = [...reference.columns.keys()];
  const curNames = new Set(current.columns.keys());
  const noFiniteReference = refNames.filter((n) => !reference.columns.get(n)!.some(Number.isFinite));
  const compared = refNames.filter((n) => curNames.has(n) && !isPrediction(n) && !noFiniteReference.includes(n));
  if (compared.length === 0) throw new RangeError('the two datasets have no numeric column in common');
  const hasPrediction = reference.columns.has(PREDICTION_DISTRIBUTION_NAME) && current.columns.has(PREDICTION_DISTRIBUTION_NAME);
  const n = reference.rows;
  const width = compared.length;
  const flat = new Float64Array(n * width);
  compared.forEach((name, j) => {
    const col = reference.columns.get(name)!;
    for (let i = 0; i < n; i++) flat[i * width + j] = col[i];
  });
  const rows = Array.from({ length: n }, (_, i) => flat.subarray(i * width, (i + 1) * width));
  const baseline = buildBaseline({
    modelName: 'file',
    modelVersion: path.basename(reference.source),
    featureNames: compared,
    rows,
    // Without a prediction column the builder still needs one; it is not reported (hasPrediction: false).
    probabilities: hasPrediction ? reference.columns.get(PREDICTION_DISTRIBUTION_NAME)! : rows.map((r) => (Number.isFinite(r[0]) ? r[0] : 0)),
    sampleSize: Math.max(1, n),
    createdAt: options.createdAt,
  });
  const partial = createPartialCounts(baseline);
  compared.forEach((name, j) => addValues(baseline, partial, j, current.columns.get(name)!));
  if (hasPrediction) addValues(baseline, partial, compared.length, current.columns.get(PREDICTION_DISTRIBUTION_NAME)!);
  const merged = mergePartialCounts(baseline, [partial]);
  const report = computeDriftReport(baseline, merged, {
    runId: options.runId,
    createdAt: options.createdAt,
    trigger: 'cli',
    environment: null,
    window: null,
    baselineSource: reference.source,
    baselineSha256: null,
    activatedAt: null,
    currentSource: current.source,
    thresholds: options.thresholds,
    hasPrediction,
  });
  report.rows.current = current.rows;
  report.alert = { action: 'disabled', reason: 'file comparison: no alerts', previous_status: null, webhook: false, alerted_run_id: null, alerted_at: null };
  return {
    report,
    compared,
    onlyReference: refNames.filter((x) => !curNames.has(x)),
    onlyCurrent: [...curNames].filter((x) => !reference.columns.has(x)),
    noFiniteReference,
  };
}
