// The gateway's asynchronous inference logger. `log(record)` only validates and buffers (no I/O, no await); a
// background flusher writes micro-batches to `inference-logs/raw/...` by size and by time, one blob per batch.
//
// Guarantees:
// - Bounded memory: at most `maxBufferedRecords` rows (pending + being written + waiting for a retry), each held
//   as its CSV line: about 650 bytes as CSV (610-662 for the synthetic records, 50 features) and about 0.7 KB on
//   the heap once flattened (see `flatLine`; 4.7 KB as the rope that concatenation builds). A record that arrives
//   when the buffer is full is dropped and counted, never blocks.
// - A Blob outage loses nothing while the buffer has room: a failed batch keeps its blob name and is retried with
//   exponential backoff (jitter, capped) until it is written. Because the name is fixed when the batch is cut,
//   a retry of a batch whose first upload did succeed writes the same name (If-None-Match: * → 409, counted as
//   written), so a retry never duplicates rows; compaction also ignores a raw name it has already committed.
// - Only a crash of the process loses buffered rows; `flush()` (the appTerminate hook) writes everything.
import { randomBytes } from 'node:crypto';
import { CONTAINERS, Environment, hourPartition, partitionStart, rawLogBlobName } from '../platform/blobLayout';
import { getContainerClient } from '../platform/blobStorage';
import { getConfig } from '../platform/config';
import type { CheckResult, HealthCheck } from '../platform/health';
import { InferenceLogRecord, toFlatRow } from './logSchema';
import { RAW_LOG_CONTENT_TYPE, rawBatchBody, serializeRow } from './rawLogFormat';
import { errorMessage } from '../platform/errors';

/** Writes one batch blob; must be idempotent for the same name and body. */
export type BatchUploader = (blobName: string, body: Buffer) => Promise<void>;

export interface InferenceLoggerOptions {
  maxBufferedRecords: number;
  maxBatchRecords: number;
  flushIntervalMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Parallel uploads (batches of different partitions or successive batches). */
  maxConcurrentUploads: number;
  /** Unique per process; defaults to a random id. */
  writerId: string;
  upload: BatchUploader;
  /** Called on every failed upload (logging); never throws into the logger. */
  onError?: (err: unknown, blobName: string, attempt: number) => void;
}

export interface InferenceLoggerStats {
  /** Records in blobs confirmed written. */
  written: number;
  /** Record-attempts retried after a failed upload (a batch of 100 retried twice counts 200). */
  retried: number;
  /** Records dropped because the buffer was full (or still unwritten when a shutdown flush gave up). */
  dropped: number;
  /** Records in memory now: pending, being written, or waiting for a retry. */
  buffered: number;
  batches_written: number;
  failed_uploads: number;
  capacity: number;
  writer: string;
  /** True from a failed upload until the next successful one. */
  failing: boolean;
  last_error?: string;
}

interface Batch {
  readonly blobName: string;
  readonly lines: string[];
  attempts: number;
}

interface Pending {
  env: Environment;
  hourStart: Date;
  lines: string[];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The line as one flat string. serializeRow builds it by concatenation, which V8 keeps as a rope of some 70 pieces
 * (measured: 4.7 KB of heap per 650-byte line); a UTF-8 round trip copies it into one sequential string (0.7 KB), and
 * the buffer is sized in records, so this is what keeps the bound small.
 */
function flatLine(line: string): string {
  return Buffer.from(line, 'utf8').toString('utf8');
}

export function newWriterId(): string {
  return `w${process.pid.toString(36)}${randomBytes(4).toString('hex')}`;
}

export class InferenceLogger {
  private readonly options: InferenceLoggerOptions;
  private readonly pending = new Map<string, Pending>();
  private readonly ready: Batch[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private bufferedCount = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryWaiting: Batch[] = [];
  private closed = false;
  private readonly counters = { written: 0, retried: 0, dropped: 0, batches_written: 0, failed_uploads: 0 };
  private lastError: string | undefined;
  private failing = false;

  constructor(options: InferenceLoggerOptions) {
    this.options = options;
  }

  get writerId(): string {
    return this.options.writerId;
  }

  /**
   * Buffer one record; returns false when it was dropped because the buffer is full. Throws LogRecordError
   * synchronously for a record that breaks the schema (a bug in the caller, not a runtime condition).
   */
  log(record: InferenceLogRecord): boolean {
    const row = toFlatRow(record);
    if (this.bufferedCount >= this.options.maxBufferedRecords || this.closed) {
      this.counters.dropped++;
      return false;
    }
    const time = new Date(row.time);
    const { date, hour } = hourPartition(time);
    const key = `${row.environment}/${date}/${hour}`;
    let p = this.pending.get(key);
    if (!p) {
      p = { env: row.environment, hourStart: partitionStart({ date, hour }), lines: [] };
      this.pending.set(key, p);
    }
    p.lines.push(flatLine(serializeRow(row)));
    this.bufferedCount++;
    if (p.lines.length >= this.options.maxBatchRecords) {
      this.cut(key, p);
      this.pump();
    } else {
      this.timer ??= setTimeout(() => this.onTimer(), this.options.flushIntervalMs);
      this.timer.unref?.();
    }
    return true;
  }

  stats(): InferenceLoggerStats {
    return {
      ...this.counters,
      buffered: this.bufferedCount,
      capacity: this.options.maxBufferedRecords,
      writer: this.options.writerId,
      failing: this.failing,
      ...(this.lastError ? { last_error: this.lastError } : {}),
    };
  }

  /**
   * Write everything buffered now, retrying failed batches until they are written or `timeoutMs` passes; records
   * still unwritten then are counted as dropped. Used at shutdown (appTerminate) and by tests.
   */
  async flush(timeoutMs = 30000): Promise<InferenceLoggerStats> {
    const deadline = Date.now() + timeoutMs;
    this.cutAll();
    while (Date.now() < deadline) {
      // Batches waiting for their backoff are due now: shutdown does not wait for the timer.
      this.releaseRetries();
      this.pump();
      if (this.inflight.size === 0 && this.ready.length === 0 && this.retryWaiting.length === 0 && this.pending.size === 0) break;
      if (this.inflight.size) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, deadline - Date.now()))));
        await Promise.race([...this.inflight, timeout]);
        clearTimeout(timer);
      } else {
        await sleep(Math.min(50, Math.max(0, deadline - Date.now())));
      }
    }
    return this.stats();
  }

  /**
   * Flush (which waits for in-flight uploads up to `timeoutMs`), then refuse new records. Batches never started are
   * counted as dropped at once. An upload still in flight after another `inflightGraceMs` stays in `buffered`: it
   * is counted when it settles, as written if it lands, as dropped if it fails (no retry after close), so that
   * written + dropped + buffered stays the number of records accepted, each counted once.
   */
  async close(timeoutMs = 30000, inflightGraceMs = Math.min(timeoutMs, 5000)): Promise<InferenceLoggerStats> {
    await this.flush(timeoutMs);
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.releaseRetries();
    const unsent = this.ready.reduce((n, b) => n + b.lines.length, 0) + [...this.pending.values()].reduce((n, p) => n + p.lines.length, 0);
    this.ready.length = 0;
    this.pending.clear();
    this.counters.dropped += unsent;
    this.bufferedCount -= unsent;
    if (this.inflight.size) {
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((r) => (timer = setTimeout(r, inflightGraceMs)));
      await Promise.race([Promise.allSettled([...this.inflight]), grace]);
      clearTimeout(timer);
    }
    return this.stats();
  }

  private onTimer(): void {
    this.timer = undefined;
    this.cutAll();
    this.pump();
  }

  private cutAll(): void {
    for (const [key, p] of this.pending) this.cut(key, p);
  }

  /** Turn the pending lines of one partition into batches with their final blob names. */
  private cut(key: string, p: Pending): void {
    this.pending.delete(key);
    const now = new Date();
    for (let i = 0; i < p.lines.length; i += this.options.maxBatchRecords) {
      const lines = p.lines.slice(i, i + this.options.maxBatchRecords);
      const blobName = rawLogBlobName(p.env, p.hourStart, now, this.options.writerId, this.seq++);
      this.ready.push({ blobName, lines, attempts: 0 });
    }
  }

  private pump(): void {
    while (this.ready.length && this.inflight.size < this.options.maxConcurrentUploads) {
      const batch = this.ready.shift()!;
      const run = this.write(batch).finally(() => {
        this.inflight.delete(run);
        this.pump();
      });
      this.inflight.add(run);
    }
  }

  private async write(batch: Batch): Promise<void> {
    batch.attempts++;
    try {
      await this.options.upload(batch.blobName, rawBatchBody(batch.lines));
      this.counters.written += batch.lines.length;
      this.counters.batches_written++;
      this.bufferedCount -= batch.lines.length;
      this.failing = false;
    } catch (err) {
      this.failing = true;
      this.counters.failed_uploads++;
      this.lastError = errorMessage(err);
      try {
        this.options.onError?.(err, batch.blobName, batch.attempts);
      } catch {
        // a failing error callback must not lose the batch
      }
      if (this.closed) {
        // An upload that outlived close(): nothing will retry it.
        this.counters.dropped += batch.lines.length;
        this.bufferedCount -= batch.lines.length;
        return;
      }
      this.counters.retried += batch.lines.length;
      this.retryWaiting.push(batch);
      this.scheduleRetry(batch.attempts);
    }
  }

  private scheduleRetry(attempts: number): void {
    if (this.retryTimer) return;
    const { retryBaseDelayMs: base, retryMaxDelayMs: cap } = this.options;
    const delay = Math.min(cap, base * 2 ** Math.min(20, attempts - 1));
    const jittered = delay / 2 + Math.random() * (delay / 2);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.releaseRetries();
      this.pump();
    }, jittered);
    this.retryTimer.unref?.();
  }

  private releaseRetries(): void {
    if (!this.retryWaiting.length) return;
    // Oldest first, ahead of newer batches, so blobs land roughly in time order after an outage.
    this.ready.unshift(...this.retryWaiting);
    this.retryWaiting = [];
  }
}

/** Upload to the app's `inference-logs` container; an existing blob of the same name is the same batch. */
export const blobBatchUploader: BatchUploader = async (blobName, body) => {
  const container = getContainerClient(CONTAINERS.inferenceLogs);
  const upload = () =>
    container.getBlockBlobClient(blobName).upload(body, body.length, {
      conditions: { ifNoneMatch: '*' },
      blobHTTPHeaders: { blobContentType: RAW_LOG_CONTENT_TYPE },
    });
  try {
    await upload();
  } catch (err) {
    const e = err as { statusCode?: number; code?: string };
    if (e.statusCode === 409 && e.code === 'BlobAlreadyExists') return;
    if (e.statusCode === 404 && e.code === 'ContainerNotFound') {
      await container.createIfNotExists();
      await upload();
      return;
    }
    throw err;
  }
};

export function inferenceLoggerOptionsFromConfig(): InferenceLoggerOptions {
  const c = getConfig();
  return {
    maxBufferedRecords: c.logBufferMaxRecords,
    maxBatchRecords: c.logBatchMaxRecords,
    flushIntervalMs: c.logFlushIntervalMs,
    retryBaseDelayMs: 250,
    retryMaxDelayMs: c.logRetryMaxDelayMs,
    maxConcurrentUploads: 4,
    writerId: newWriterId(),
    upload: blobBatchUploader,
  };
}

let instance: InferenceLogger | undefined;

/** The process's logger, built from configuration on first use. */
export function getInferenceLogger(): InferenceLogger {
  instance ??= new InferenceLogger(inferenceLoggerOptionsFromConfig());
  return instance;
}

/** For `app.hook.appTerminate(...)`: write every buffered record before the worker exits. */
export async function flushInferenceLogger(): Promise<void> {
  await instance?.close();
}

/**
 * Health entry (`inference_logger` in `/api/health/details`): ok while batches are being written; degraded while uploads fail (records are retained and
 * retried) or after records were dropped. Never down: logging is not required to answer predictions.
 */
export function inferenceLoggerHealthCheck(logger: () => InferenceLogger | undefined = () => instance): HealthCheck {
  return {
    required: false,
    async run(): Promise<CheckResult> {
      const l = logger();
      if (!l) return { status: 'ok', detail: 'no records logged yet' };
      const s = l.stats();
      const info = { ...s } as Record<string, unknown>;
      if (s.dropped > 0) return { status: 'degraded', detail: `${s.dropped} records dropped`, info };
      if (s.failing) return { status: 'degraded', detail: `buffer ${s.buffered}/${s.capacity} while Blob fails: ${s.last_error}`, info };
      return { status: 'ok', info };
    },
  };
}
