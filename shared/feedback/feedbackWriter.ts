// The feedback intake's buffered writer: accepted records wait in memory and are written as NDJSON micro-batches to
// `feedback/records/date={day received}/...` by the shared micro-batch writer (bounded buffer, retries with backoff,
// fixed blob names written with If-None-Match, flush at shutdown), so a Blob outage delays feedback but loses none.
import { CONTAINERS, compactTime, feedbackBlobName } from '../platform/blobLayout';
import {
  BatchedBlobWriter,
  BatchedBlobWriterOptions,
  BatchedBlobWriterStats,
  idempotentBlobUploader,
  newWriterId,
} from '../platform/batchedBlobWriter';
import { getConfig } from '../platform/config';
import type { CheckResult, HealthCheck } from '../platform/health';
import { FeedbackInput } from './feedbackRequest';
import { FeedbackRecord, serializeFeedbackRecord, toFeedbackRecord } from './feedbackRecord';

export const FEEDBACK_CONTENT_TYPE = 'application/x-ndjson';

/** A buffered record: its stored line, and the request id erase looks for. */
interface BufferedFeedback {
  readonly line: string;
  readonly requestId?: string;
}

export type FeedbackWriterOptions = Omit<BatchedBlobWriterOptions<string, BufferedFeedback>, 'blobName' | 'body' | 'itemBytes'>;

export interface FeedbackWriterStats extends BatchedBlobWriterStats {
  /** Buffered records taken back by an erase before they were written. */
  erased_in_buffer: number;
}

/** A batch is also cut at this size, so that one blob stays small enough to rewrite on erase. */
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

export class FeedbackWriter {
  private readonly writer: BatchedBlobWriter<string, BufferedFeedback>;
  private seq = 0;
  private erasedInBuffer = 0;

  constructor(options: FeedbackWriterOptions) {
    this.writer = new BatchedBlobWriter<string, BufferedFeedback>({
      maxBatchBytes: MAX_BATCH_BYTES,
      ...options,
      blobName: (date, cutTime, writerId, seq) => feedbackBlobName(date, cutTime, writerId, seq),
      body: (items) => Buffer.from(items.map((i) => `${i.line}\n`).join(''), 'utf8'),
      // Lines are ASCII (JSON of base64, hex and ASCII tokens), so characters are bytes.
      itemBytes: (item) => item.line.length + 1,
    });
  }

  get writerId(): string {
    return this.writer.writerId;
  }

  /**
   * The records of `items`, received at `receivedAt` (or labelled at their own `labelledAt`), buffered for writing;
   * undefined when the buffer has no room for all of them (nothing is buffered then, and the caller answers 503: a
   * resubmission is harmless, latest wins).
   */
  accept(items: readonly FeedbackInput[], receivedAt = new Date(), key?: string): FeedbackRecord[] | undefined {
    const records = items.map((item) => {
      const at = item.labelledAt ?? receivedAt;
      const id = `${compactTime(at, { milliseconds: true })}-${this.writerId}-${String(this.seq++).padStart(10, '0')}`;
      return toFeedbackRecord(item, at, id, key);
    });
    const entries = records.map((r) => {
      const date = r.received_at.slice(0, 10);
      const item = { line: serializeFeedbackRecord(r), ...(r.request_id !== undefined ? { requestId: r.request_id } : {}) };
      return { key: date, partition: date, item };
    });
    // All or nothing, so that a 503 means "nothing of this request is stored".
    return this.writer.addAll(entries) ? records : undefined;
  }

  /**
   * Take every buffered record of `requestId` back (erase). Waits for uploads in flight, since a failed one returns
   * its batch to the buffer, and takes again from there; what an upload did write is in Blob for the caller to erase.
   * `abandonedNames`: blobs an earlier, failed attempt may still write with the records (see BatchedBlobWriter.remove).
   */
  async eraseBuffered(requestId: string): Promise<{ removed: number; abandonedNames: string[] }> {
    const matches = (i: BufferedFeedback) => i.requestId === requestId;
    const first = this.writer.remove(matches);
    await this.writer.settled();
    const second = this.writer.remove(matches);
    const removed = first.items.length + second.items.length;
    this.erasedInBuffer += removed;
    return { removed, abandonedNames: [...first.abandonedNames, ...second.abandonedNames] };
  }

  stats(): FeedbackWriterStats {
    return { ...this.writer.stats(), erased_in_buffer: this.erasedInBuffer };
  }

  flush(timeoutMs = 30000): Promise<FeedbackWriterStats> {
    return this.writer.flush(timeoutMs).then(() => this.stats());
  }

  close(timeoutMs = 30000, inflightGraceMs = Math.min(timeoutMs, 5000)): Promise<FeedbackWriterStats> {
    return this.writer.close(timeoutMs, inflightGraceMs).then(() => this.stats());
  }
}

/** Upload to the `feedback` container; an existing blob of the same name is the same batch. */
export const feedbackBatchUploader = idempotentBlobUploader(CONTAINERS.feedback, FEEDBACK_CONTENT_TYPE);

export function feedbackWriterOptionsFromConfig(): FeedbackWriterOptions {
  const c = getConfig();
  return {
    maxBufferedRecords: c.feedbackBufferMaxRecords,
    maxBufferedBytes: c.feedbackBufferMaxMb * 1024 * 1024,
    maxBatchRecords: c.feedbackBatchMaxRecords,
    flushIntervalMs: c.feedbackFlushIntervalMs,
    retryBaseDelayMs: 250,
    retryMaxDelayMs: c.logRetryMaxDelayMs,
    maxConcurrentUploads: 4,
    writerId: newWriterId(),
    upload: feedbackBatchUploader,
  };
}

let instance: FeedbackWriter | undefined;

/** The process's feedback writer, built from configuration on first use. */
export function getFeedbackWriter(): FeedbackWriter {
  instance ??= new FeedbackWriter(feedbackWriterOptionsFromConfig());
  return instance;
}

/** The writer if one was built (erase looks in its buffer; nothing to do otherwise). */
export function currentFeedbackWriter(): FeedbackWriter | undefined {
  return instance;
}

/** For `app.hook.appTerminate(...)`: write every buffered record before the worker exits. */
export async function flushFeedbackWriter(): Promise<void> {
  await instance?.close();
}

/**
 * Health entry (`feedback_writer`): ok while batches are written; degraded while uploads fail (records are kept and
 * retried) or after records were refused. Never down: predictions do not need it.
 */
export function feedbackWriterHealthCheck(writer: () => FeedbackWriter | undefined = () => instance): HealthCheck {
  return {
    required: false,
    async run(): Promise<CheckResult> {
      const w = writer();
      if (!w) return { status: 'ok', detail: 'no feedback received yet' };
      const s = w.stats();
      const info = { ...s } as Record<string, unknown>;
      if (s.dropped > 0) return { status: 'degraded', detail: `${s.dropped} feedback records refused or lost`, info };
      if (s.failing) return { status: 'degraded', detail: `buffer ${s.buffered}/${s.capacity} while Blob fails: ${s.last_error}`, info };
      return { status: 'ok', info };
    },
  };
}
