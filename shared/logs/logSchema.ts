// The inference-log record, defined once: the gateway's logger writes it, the compactor turns it into Parquet
// columns, the window reader reads those columns back, and the tests compare all of them. It never holds the
// email text or an address; `sender_key` is at most a keyed hash of the sender domain (the Feast entity key).
import { ENVIRONMENTS, Environment, isEnvironment } from '../platform/blobLayout';
import { FEATURE_NAMES, FeatureName } from '../serving/features/featureList';

/** Bumped when a column is added, removed or changes type; stored in every Parquet file's key-value metadata. */
export const LOG_SCHEMA_VERSION = 1;
/** Key of the schema version in the Parquet footer's key-value metadata. */
export const SCHEMA_VERSION_KEY = 'schema_version';

export const PREDICTIONS = ['ham', 'spam'] as const;
export type Prediction = (typeof PREDICTIONS)[number];

/** One logged prediction, as the gateway hands it to `InferenceLogger.log`. */
export interface InferenceLogRecord {
  /** When the prediction was made (ISO 8601 UTC, millisecond precision); decides the hour partition. */
  time: string;
  request_id: string;
  environment: Environment;
  model_name: string;
  model_version: string;
  /** The 50 model inputs, in `FEATURE_NAMES` order (float32 values). */
  features: ArrayLike<number>;
  /** P(spam). */
  probability: number;
  prediction: Prediction;
  latency_ms: number;
  degraded: boolean;
  /** Keyed hash of the sender domain (Feast entity key of `sender_stats`); null when unknown. */
  sender_key: string | null;
}

/** Parquet/DuckDB column types of the log. FLOAT is float32, as the model sees the features. */
export type LogColumnType = 'TIMESTAMPTZ' | 'VARCHAR' | 'FLOAT' | 'DOUBLE' | 'BOOLEAN';

export interface LogColumn {
  readonly name: string;
  readonly type: LogColumnType;
  readonly nullable: boolean;
}

const leading: LogColumn[] = [
  { name: 'time', type: 'TIMESTAMPTZ', nullable: false },
  { name: 'request_id', type: 'VARCHAR', nullable: false },
  { name: 'environment', type: 'VARCHAR', nullable: false },
  { name: 'model_name', type: 'VARCHAR', nullable: false },
  { name: 'model_version', type: 'VARCHAR', nullable: false },
];
const trailing: LogColumn[] = [
  { name: 'probability', type: 'DOUBLE', nullable: false },
  { name: 'prediction', type: 'VARCHAR', nullable: false },
  { name: 'latency_ms', type: 'DOUBLE', nullable: false },
  { name: 'degraded', type: 'BOOLEAN', nullable: false },
  { name: 'sender_key', type: 'VARCHAR', nullable: true },
];

/** Every column of the log, in file order: the raw CSV header and the Parquet columns are these names. */
export const LOG_COLUMNS: readonly LogColumn[] = [
  ...leading,
  ...FEATURE_NAMES.map((name): LogColumn => ({ name, type: 'FLOAT', nullable: false })),
  ...trailing,
];

export const LOG_COLUMN_NAMES: readonly string[] = LOG_COLUMNS.map((c) => c.name);

/** A flat row: one key per column (features by name); one line of a raw blob. */
export type FlatLogRow = {
  time: string;
  request_id: string;
  environment: Environment;
  model_name: string;
  model_version: string;
  probability: number;
  prediction: Prediction;
  latency_ms: number;
  degraded: boolean;
  sender_key: string | null;
} & Record<FeatureName, number>;

export class LogRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogRecordError';
  }
}

const isoUtc = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

function fail(what: string): never {
  throw new LogRecordError(what);
}

// Control characters would break a raw line; none of these values legitimately has one.
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const controlChars = /[\u0000-\u001f\u007f]/;

function checkString(row: Record<string, unknown>, key: string, max = 256): string {
  const v = row[key];
  if (typeof v !== 'string' || v.length === 0 || v.length > max || controlChars.test(v)) {
    fail(`'${key}' must be a non-empty string of at most ${max} characters without control characters`);
  }
  return v;
}

function checkNumber(row: Record<string, unknown>, key: string): number {
  const v = row[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(`'${key}' must be a finite number`);
  return v;
}

/** Canonical time: `new Date(...).toISOString()` of a valid ISO UTC string. */
function checkTime(value: unknown): string {
  if (typeof value !== 'string' || !isoUtc.test(value)) fail(`'time' must be an ISO 8601 UTC timestamp, got ${JSON.stringify(value)}`);
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) fail(`'time' is not a valid date: ${value}`);
  return d.toISOString();
}

/**
 * Check a record from the gateway and flatten it into a row. Features are rounded to float32 here, once, so the
 * raw blob, the Parquet file and every reader hold the same value.
 */
export function toFlatRow(record: InferenceLogRecord): FlatLogRow {
  const r = record as unknown as Record<string, unknown>;
  const time = checkTime(r.time);
  if (!isEnvironment(String(r.environment))) fail(`'environment' must be one of ${ENVIRONMENTS.join(', ')}`);
  const features = record.features;
  if (!features || typeof features.length !== 'number' || features.length !== FEATURE_NAMES.length) {
    fail(`'features' must hold ${FEATURE_NAMES.length} numbers`);
  }
  const row: Record<string, unknown> = {
    time,
    request_id: checkString(r, 'request_id'),
    environment: record.environment,
    model_name: checkString(r, 'model_name'),
    model_version: checkString(r, 'model_version'),
  };
  for (let i = 0; i < FEATURE_NAMES.length; i++) {
    const v = features[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) fail(`feature '${FEATURE_NAMES[i]}' must be a finite number`);
    row[FEATURE_NAMES[i]] = Math.fround(v);
  }
  row.probability = checkNumber(r, 'probability');
  if (!(PREDICTIONS as readonly unknown[]).includes(r.prediction)) fail(`'prediction' must be one of ${PREDICTIONS.join(', ')}`);
  row.prediction = r.prediction;
  row.latency_ms = checkNumber(r, 'latency_ms');
  if (typeof r.degraded !== 'boolean') fail(`'degraded' must be a boolean`);
  row.degraded = r.degraded;
  const sk = r.sender_key;
  if (sk !== null && sk !== undefined && (typeof sk !== 'string' || sk.length > 256 || controlChars.test(sk))) {
    fail(`'sender_key' must be a string without control characters, or null`);
  }
  row.sender_key = sk ?? null;
  return row as FlatLogRow;
}

const columnByName = new Map(LOG_COLUMNS.map((c) => [c.name, c]));

export function logColumn(name: string): LogColumn | undefined {
  return columnByName.get(name);
}

export { FEATURE_NAMES };
export type { FeatureName };
