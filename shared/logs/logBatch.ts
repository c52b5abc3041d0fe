// Column batches: how the window reader hands rows to the drift detector. One typed array per projected numeric
// column (features as Float32Array, the model's input precision), so a partition's statistics never build
// per-row objects.
import { FEATURE_NAMES, FeatureName, FlatLogRow, LOG_COLUMN_NAMES, logColumn } from './logSchema';

export const TEXT_COLUMNS = ['request_id', 'environment', 'model_name', 'model_version', 'prediction', 'sender_key'] as const;
export type TextColumn = (typeof TEXT_COLUMNS)[number];

export interface LogBatch {
  rowCount: number;
  /** The projected feature columns. */
  features: Partial<Record<FeatureName, Float32Array>>;
  /** P(spam), when projected. */
  probability?: Float64Array;
  latency_ms?: Float64Array;
  /** Epoch milliseconds, when projected. */
  time?: Float64Array;
  /** 1 = degraded, when projected. */
  degraded?: Uint8Array;
  text: Partial<Record<TextColumn, (string | null)[]>>;
}

/** Column names to read; unknown names are rejected so that a typo fails instead of reading nothing. */
export function checkProjection(columns: readonly string[] | undefined): readonly string[] {
  if (!columns) return LOG_COLUMN_NAMES;
  for (const c of columns) if (!logColumn(c)) throw new RangeError(`unknown log column '${c}'`);
  return [...new Set(columns)];
}

/**
 * Fills one batch of fixed capacity column by column or row by row. The arrays of the next batch are allocated when
 * its first value is written, not when the previous one is taken: a file's last, partial batch does not leave a
 * full-capacity set of arrays behind (53 columns of 65,536 rows are 14 MB).
 */
export class LogBatchBuilder {
  private current: LogBatch | undefined;
  private n = 0;

  constructor(
    readonly columns: readonly string[],
    readonly capacity: number,
  ) {}

  get length(): number {
    return this.n;
  }

  get full(): boolean {
    return this.n >= this.capacity;
  }

  private get batch(): LogBatch {
    if (this.current) return this.current;
    const b: LogBatch = { rowCount: 0, features: {}, text: {} };
    for (const c of this.columns) {
      const type = logColumn(c)!.type;
      if (type === 'FLOAT') b.features[c as FeatureName] = new Float32Array(this.capacity);
      else if (c === 'probability' || c === 'latency_ms' || c === 'time') b[c] = new Float64Array(this.capacity);
      else if (c === 'degraded') b.degraded = new Uint8Array(this.capacity);
      else b.text[c as TextColumn] = new Array(this.capacity);
    }
    this.current = b;
    return b;
  }

  pushRow(row: FlatLogRow): void {
    const b = this.batch;
    const i = this.n++;
    for (const c of this.columns) {
      const f = b.features[c as FeatureName];
      if (f) f[i] = row[c as FeatureName];
    }
    if (b.probability) b.probability[i] = row.probability;
    if (b.latency_ms) b.latency_ms[i] = row.latency_ms;
    if (b.time) b.time[i] = Date.parse(row.time);
    if (b.degraded) b.degraded[i] = row.degraded ? 1 : 0;
    for (const [c, arr] of Object.entries(b.text) as [TextColumn, (string | null)[]][]) arr[i] = row[c] ?? null;
  }

  /** Write `value` of column `c` at row `offset` of the current fill (used by the Parquet reader). */
  setValue(c: string, offset: number, value: unknown): void {
    const b = this.batch;
    const i = this.n + offset;
    const f = b.features[c as FeatureName];
    if (f) f[i] = value as number;
    else if (c === 'probability' || c === 'latency_ms' || c === 'time') b[c]![i] = value as number;
    else if (c === 'degraded') b.degraded![i] = value ? 1 : 0;
    else b.text[c as TextColumn]![i] = (value as string | null) ?? null;
  }

  /** Account for `count` rows filled with `setValue`. */
  advance(count: number): void {
    this.n += count;
  }

  /** The filled rows as a batch (arrays trimmed to the row count), and start a new one. */
  take(): LogBatch {
    const b = this.batch;
    const n = this.n;
    const out: LogBatch = { rowCount: n, features: {}, text: {} };
    for (const [k, v] of Object.entries(b.features)) out.features[k as FeatureName] = n === this.capacity ? v : v.subarray(0, n);
    for (const k of ['probability', 'latency_ms', 'time'] as const) if (b[k]) out[k] = n === this.capacity ? b[k] : b[k].subarray(0, n);
    if (b.degraded) out.degraded = n === this.capacity ? b.degraded : b.degraded.subarray(0, n);
    for (const [k, v] of Object.entries(b.text)) out.text[k as TextColumn] = n === this.capacity ? v : v.slice(0, n);
    this.current = undefined;
    this.n = 0;
    return out;
  }
}

/** Rows of a batch as flat objects (tests and small tools; the drift path uses the columns). */
export function batchRows(batch: LogBatch): Record<string, unknown>[] {
  const rows: Record<string, unknown>[] = [];
  for (let i = 0; i < batch.rowCount; i++) {
    const r: Record<string, unknown> = {};
    if (batch.time) r.time = new Date(batch.time[i]).toISOString();
    for (const [k, v] of Object.entries(batch.text)) r[k] = v[i];
    for (const f of FEATURE_NAMES) if (batch.features[f]) r[f] = batch.features[f][i];
    if (batch.probability) r.probability = batch.probability[i];
    if (batch.latency_ms) r.latency_ms = batch.latency_ms[i];
    if (batch.degraded) r.degraded = batch.degraded[i] === 1;
    rows.push(r);
  }
  return rows;
}
