// The gateway's asynchronous inference logger. `log(record)` only validates and buffers (no I/O, no await); the
// shared micro-batch writer (shared/platform/batchedBlobWriter.ts: bounded buffer, batches by size and time, fixed
// blob names, retries with backoff, If-None-Match idempotence, flush and close) writes them to
// `inference-logs/raw/...`, one blob per environment-hour batch.
//
// A buffered record is its CSV line: about 650 bytes as CSV (610-662 for the synthetic records, 50 features) and
// about 0.7 KB on the heap once flattened (see `flatLine`; 4.7 KB as the rope that concatenation builds).
// Compaction also ignores a raw name it has already committed, so a retried batch is never counted twice.
import { CONTAINERS, Environment, hourPartition, partitionStart, rawLogBlobName } from '../platform/blobLayout';
import {
  BatchedBlobWriter,
  BatchedBlobWriterOptions,
  BatchedBlobWriterStats,
  BatchUploader,
  idempotentBlobUploader,
  newWriterId,
} from '../platform/batchedBlobWriter';
import { getConfig } from '../platform/config';
import type { CheckResult, HealthCheck } from '../platform/health';
import { InferenceLogRecord, toFlatRow } from './logSchema';
import { RAW_LOG_CONTENT_TYPE, rawBatchBody, serializeRow } from './rawLogFormat';

export { newWriterId };
export type { BatchUploader };

/** The shared writer's options, less what the logger decides itself (names, bodies, no byte bounds: rows are small). */
export type InferenceLoggerOptions = Omit<
  BatchedBlobWriterOptions<unknown, string>,
  'blobName' | 'body' | 'itemBytes' | 'maxBufferedBytes' | 'maxBatchBytes'
>;

export type InferenceLoggerStats = BatchedBlobWriterStats;

/**
 * The line as one flat string. serializeRow builds it by concatenation, which V8 keeps as a rope of some 70 pieces
 * (measured: 4.7 KB of heap per 650-byte line); a UTF-8 round trip copies it into one sequential string (0.7 KB), and
 * the buffer is sized in records, so this is what keeps the bound small.
 */
function flatLine(line: string): string {
  return Buffer.from(line, 'utf8').toString('utf8');
}

interface HourOfEnvironment {
  env: Environment;
  hourStart: Date;
}

export class InferenceLogger {
  private readonly writer: BatchedBlobWriter<HourOfEnvironment, string>;

  constructor(options: InferenceLoggerOptions) {
    this.writer = new BatchedBlobWriter<HourOfEnvironment, string>({
      ...options,
      blobName: (p, cutTime, writerId, seq) => rawLogBlobName(p.env, p.hourStart, cutTime, writerId, seq),
      body: (lines) => rawBatchBody(lines),
    });
  }

  get writerId(): string {
    return this.writer.writerId;
  }

  /**
   * Buffer one record; returns false when it was dropped because the buffer is full. Throws LogRecordError
   * synchronously for a record that breaks the schema (a bug in the caller, not a runtime condition).
   */
  log(record: InferenceLogRecord): boolean {
    const row = toFlatRow(record);
    const { date, hour } = hourPartition(new Date(row.time));
    return this.writer.add(
      `${row.environment}/${date}/${hour}`,
      { env: row.environment, hourStart: partitionStart({ date, hour }) },
      flatLine(serializeRow(row)),
    );
  }

  stats(): InferenceLoggerStats {
    return this.writer.stats();
  }

  /** See BatchedBlobWriter.flush: used at shutdown (through close) and by tests. */
  flush(timeoutMs = 30000): Promise<InferenceLoggerStats> {
    return this.writer.flush(timeoutMs);
  }

  /** See BatchedBlobWriter.close: flush, then refuse new records; what is left unwritten is counted as dropped. */
  close(timeoutMs = 30000, inflightGraceMs = Math.min(timeoutMs, 5000)): Promise<InferenceLoggerStats> {
    return this.writer.close(timeoutMs, inflightGraceMs);
  }
}

/** Upload to the app's `inference-logs` container; an existing blob of the same name is the same batch. */
export const blobBatchUploader: BatchUploader = idempotentBlobUploader(CONTAINERS.inferenceLogs, RAW_LOG_CONTENT_TYPE);

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
