// The blob layout, defined once (docs/architecture.md lists it). Every path the app reads or writes is built here.

export const CONTAINERS = {
  models: 'models',
  baselines: 'baselines',
  inferenceLogs: 'inference-logs',
  driftReports: 'drift-reports',
  feedback: 'feedback',
} as const;

export type ContainerName = (typeof CONTAINERS)[keyof typeof CONTAINERS];

export const ENVIRONMENTS = ['production', 'staging'] as const;
export type Environment = (typeof ENVIRONMENTS)[number];

export function isEnvironment(value: string): value is Environment {
  return (ENVIRONMENTS as readonly string[]).includes(value);
}

/** `models/{model}/{version}/` */
export function modelPrefix(model: string, version: string): string {
  return `${model}/${version}/`;
}

/** `baselines/{model}/{version}/baseline.json` */
export function baselinePath(model: string, version: string): string {
  return `${model}/${version}/baseline.json`;
}

/** `date=yyyy-mm-dd/hour=hh` in UTC. */
export function hourPartition(time: Date): { date: string; hour: string } {
  const iso = time.toISOString();
  return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

/** `env={env}/date={yyyy-mm-dd}/{runId}.{json|html}` */
export function driftReportPath(env: Environment, time: Date, runId: string, ext: 'json' | 'html'): string {
  return `env=${env}/date=${hourPartition(time).date}/${runId}.${ext}`;
}

/** `index.json`: the compact list of the newest drift runs (shared/drift/reportIndex.ts), beside the reports. */
export const DRIFT_REPORT_INDEX_JSON = 'index.json';

/** `index.html`: the page people open to see every environment's drift over time; links the reports relatively. */
export const DRIFT_REPORT_INDEX_HTML = 'index.html';

export interface LogPartition {
  readonly kind: 'raw' | 'parquet';
  readonly env: Environment;
  readonly date: string;
  readonly hour: string;
}

const partitionPattern = /^(raw|parquet)\/env=([a-z]+)\/date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\//;

/** The partition of a blob under `inference-logs/`, or undefined when the name is not in the layout. */
export function parseLogPartition(blobName: string): LogPartition | undefined {
  const m = partitionPattern.exec(blobName);
  if (!m || !isEnvironment(m[2])) return undefined;
  return { kind: m[1] as 'raw' | 'parquet', env: m[2], date: m[3], hour: m[4] };
}

/** Start of the hour a partition covers. */
export function partitionStart(p: Pick<LogPartition, 'date' | 'hour'>): Date {
  return new Date(`${p.date}T${p.hour}:00:00.000Z`);
}

// Inference-log compaction (shared/logs/): raw micro-batch names, the per-hour manifest and lock, Parquet parts and
// the quarantine for corrupt raw blobs, all relative to the `inference-logs` container.

/**
 * `{kind}/env={env}/`, `.../date={date}/` or `.../hour={hour}/`: the prefix of every log blob of an environment, a
 * day or an hour partition (listing goes by these).
 */
export function logPartitionPrefix(
  kind: LogPartition['kind'],
  p: Pick<LogPartition, 'env'> & Partial<Pick<LogPartition, 'date' | 'hour'>>,
): string {
  const date = p.date === undefined ? '' : `date=${p.date}/`;
  const hour = p.date === undefined || p.hour === undefined ? '' : `hour=${p.hour}/`;
  return `${kind}/env=${p.env}/${date}${hour}`;
}

/**
 * `yyyymmddThhmmssZ`, or `yyyymmddThhmmssSSSZ` with milliseconds: a UTC time for names (run ids, promotion ids,
 * blob names) that sorts like the time it encodes. Seconds for ids made once per tick or event; milliseconds where
 * several names a second must differ.
 */
export function compactTime(time: Date, options: { milliseconds?: boolean } = {}): string {
  const iso = time.toISOString().replace(/[-:]/g, '');
  return options.milliseconds ? iso.replace('.', '') : iso.replace(/\.\d+Z$/, 'Z');
}

/**
 * `raw/env=.../hour=hh/{flushTime}-{writer}-{seq}.csv`: the flush time first so that names sort by time across
 * writers; writer id and sequence make the name unique per process and batch.
 */
export function rawLogBlobName(env: Environment, recordHour: Date, flushTime: Date, writer: string, seq: number): string {
  return `${logPartitionPrefix('raw', { env, ...hourPartition(recordHour) })}${compactTime(flushTime, { milliseconds: true })}-${writer}-${String(seq).padStart(8, '0')}${RAW_LOG_EXTENSION}`;
}

/** Extension of raw inference-log micro-batches (CSV with a header; docs/logs.md). */
export const RAW_LOG_EXTENSION = '.csv';

/** The commit record of a compacted hour (which Parquet parts hold which raw blobs' rows); its lease is the hour's lock. */
export function compactionManifestPath(p: Pick<LogPartition, 'env' | 'date' | 'hour'>): string {
  return `${logPartitionPrefix('parquet', p)}_manifest.json`;
}

/** The prefix every Parquet part of an hour starts with (the manifest does not). */
export function parquetPartPrefix(p: Pick<LogPartition, 'env' | 'date' | 'hour'>): string {
  return `${logPartitionPrefix('parquet', p)}part-`;
}

/** `parquet/env=.../hour=hh/part-{generation}-{id}.parquet` */
export function parquetPartPath(p: Pick<LogPartition, 'env' | 'date' | 'hour'>, generation: number, id: string): string {
  return `${parquetPartPrefix(p)}${String(generation).padStart(5, '0')}-${id}.parquet`;
}

/** The generation a part was written for (the one its commit would create), from its name; undefined for another name. */
export function parquetPartGeneration(name: string): number | undefined {
  const m = /\/part-(\d+)-[^/]*\.parquet$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

/** Where a corrupt raw blob is moved: `quarantine/` + its raw name. */
export function quarantinePath(rawBlobName: string): string {
  return `quarantine/${rawBlobName}`;
}

// Drift detection (shared/drift/): its state lives under `state/` in the drift-reports container, beside the reports
// and outside `baselines/`, so that writing it never fires the baseline trigger.

/** Copy of a validated baseline upload, by content hash: the active record points at one, so that a rejected later
 * upload (which overwrites `baselines/...`) leaves the previous valid baseline in force. */
export function activeBaselinePath(model: string, version: string, sha256: string): string {
  return `state/active-baselines/${model}/${version}/${sha256}.json`;
}

/** Which upload is active for a model version: content hash, source blob, activation time. */
export function activeBaselineRecordPath(model: string, version: string): string {
  return `state/active-baselines/${model}/${version}/active.json`;
}

/** Every model version with an active baseline, newest activation last. */
export function activeBaselineIndexPath(model: string): string {
  return `state/active-baselines/${model}/index.json`;
}

/** Last alerted drift state of an environment and model version (alert suppression). */
export function driftAlertStatePath(env: Environment, model: string, version: string): string {
  return `state/alerts/env=${env}/${model}/${version}.json`;
}

/** Partial counts of one log partition in a fanned-out drift run. */
export function driftPartialPath(runId: string, index: number): string {
  return `${driftPartialsPrefix(runId)}${String(index).padStart(6, '0')}.json`;
}

/** `state/partials/{runId}/`: every partial count of one drift run. */
export function driftPartialsPrefix(runId: string): string {
  return `state/partials/${runId}/`;
}

/** Why an uploaded baseline was rejected; `id` identifies the upload (its content hash). */
export function baselineRejectionPath(model: string, version: string, id: string): string {
  return `baseline-rejections/${model}/${version}/${id}.json`;
}

// Model lifecycle (shared/lifecycle/promotion/; the files of a version are MODEL_FILES in shared/model/modelArtifacts.ts):
// the Triton repository KServe reads, and the promotion records. Records live under `promotions/` in the models container, beside the versions they promote.

/** `{model}/{version}/triton/`: the Triton model repository an InferenceService's storageUri points at (with the slash). */
export function tritonRepositoryPrefix(model: string, version: string): string {
  return `${modelPrefix(model, version)}triton/`;
}

/** `promotions/{model}/{promotionId}.json` in the models container. */
export function promotionRecordPath(model: string, promotionId: string): string {
  return `promotions/${model}/${promotionId}.json`;
}

/** `challengers/{model}/{version}/` in the models container: a retrained model before (or instead of) registration;
 * no InferenceService is ever pointed here. */
export function challengerPrefix(model: string, version: string): string {
  return `challengers/${modelPrefix(model, version)}`;
}

/** `retrainings/{model}/` in the models container: the records of the model's retraining runs and their scratch. */
export function retrainingsPrefix(model: string): string {
  return `retrainings/${model}/`;
}

/** `retrainings/{model}/{runId}.json` in the models container: the record of a retraining run. */
export function retrainingRecordPath(model: string, runId: string): string {
  return `${retrainingsPrefix(model)}${runId}.json`;
}

/** `retrainings/{model}/{runId}/holdout.ndjson.gz`: the run's held-out mail, scratch (deleted when the run ends). */
export function retrainingHoldoutPath(model: string, runId: string): string {
  return `${retrainingsPrefix(model)}${runId}/holdout.ndjson.gz`;
}

/** `retrainings/{model}/start.lock`: the blob whose lease makes starting a retraining one caller at a time. */
export function retrainingStartLockPath(model: string): string {
  return `${retrainingsPrefix(model)}start.lock`;
}

/** `evaluation/{model}/heldout.ndjson.gz` in the models container: the held-out mail the promotion's smoke
 * evaluation sends, for where the corpus package (a devDependency) is not installed, as in the Function App. */
export function heldOutSetPath(model: string): string {
  return `evaluation/${model}/heldout.ndjson.gz`;
}

// User feedback (shared/feedback/, docs/feedback.md): micro-batches of labelled messages under `records/`, one folder
// per day the feedback was received, in the `feedback` container (the only place that holds message text).

/** `records/` or `records/date={yyyy-mm-dd}/`: the prefix of every feedback blob, or of one day's. */
export function feedbackDayPrefix(date?: string): string {
  return date === undefined ? 'records/' : `records/date=${date}/`;
}

/** `records/date={yyyy-mm-dd}/{flushTime}-{writer}-{seq}.ndjson`: unique per process and batch, sorted by time. */
export function feedbackBlobName(date: string, flushTime: Date, writer: string, seq: number): string {
  return `${feedbackDayPrefix(date)}${compactTime(flushTime, { milliseconds: true })}-${writer}-${String(seq).padStart(8, '0')}.ndjson`;
}

/** The day of a feedback blob, or undefined when the name is not in the layout. */
export function feedbackBlobDay(blobName: string): string | undefined {
  return /^records\/date=(\d{4}-\d{2}-\d{2})\/[^/]+\.ndjson$/.exec(blobName)?.[1];
}

// The training dataset (shared/dataset/trainingDataset.ts, docs/model.md): Parquet files of one schema under
// `datasets/{model}/`, in two containers by who may read them. The initial set (the public corpus) is in the models
// container, beside the held-out evaluation set; feedback snapshots hold user mail, so they are in the feedback
// container, under its access rules and retention.

/** `datasets/{model}/initial/` in the models container: the parts of the initial training set. */
export function initialDatasetPrefix(model: string): string {
  return `datasets/${model}/initial/`;
}

/** `datasets/{model}/snapshots/` or `.../snapshots/{snapshotId}/` in the feedback container. */
export function feedbackSnapshotPrefix(model: string, snapshotId?: string): string {
  return `datasets/${model}/snapshots/${snapshotId === undefined ? '' : `${snapshotId}/`}`;
}

/** `part-{nnnnn}.parquet`: the name of a dataset part under its prefix. */
export function datasetPartName(index: number): string {
  return `part-${String(index).padStart(5, '0')}.parquet`;
}
