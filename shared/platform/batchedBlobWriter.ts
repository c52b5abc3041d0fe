// A buffered, asynchronous writer of micro-batch blobs, shared by the inference logger and the feedback intake.
// `add(...)` only buffers (no I/O, no await); a background flusher cuts batches per partition by size and by time
// and uploads each as one blob.
//
// Guarantees:
// - Bounded memory: at most `maxBufferedRecords` items (and, when given, `maxBufferedBytes` of them) pending, being
//   written or waiting for a retry. An item that arrives when the buffer is full is refused and counted, never blocks.
// - A Blob outage loses nothing while the buffer has room: a failed batch keeps its blob name and is retried with
//   exponential backoff (jitter, capped) until it is written. Because the name is fixed when the batch is cut, a
//   retry of a batch whose first upload did land writes the same name (the uploader's If-None-Match: * makes that a
//   409, counted as written), so a retry never duplicates items.
// - Only a crash of the process loses buffered items; `flush()` / `close()` (the appTerminate hooks) write everything.
import { randomBytes } from 'node:crypto';
import { getContainerClient } from './blobStorage';
import { errorMessage } from './errors';

/** Writes one batch blob; must be idempotent for the same name and body. */
export type BatchUploader = (blobName: string, body: Buffer) => Promise<void>;

export interface BatchedBlobWriterOptions<P, T> {
  maxBufferedRecords: number;
  /** Optional bound on the bytes buffered (by `itemBytes`), for items whose size varies widely. */
  maxBufferedBytes?: number;
  maxBatchRecords: number;
  /** Optional bound on the bytes of one batch (by `itemBytes`); a batch holds at least one item. */
  maxBatchBytes?: number;
  flushIntervalMs: number;
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
  /** Parallel uploads (batches of different partitions or successive batches). */
  maxConcurrentUploads: number;
  /** Unique per process (newWriterId()). */
  writerId: string;
  upload: BatchUploader;
  /** The blob name of a batch of `partition` cut at `cutTime`: fixed once, so that retries rewrite the same name. */
  blobName(partition: P, cutTime: Date, writerId: string, seq: number): string;
  /** The blob body of a batch. */
  body(items: readonly T[]): Buffer;
  /** Size of an item for the byte bounds; 0 when not given. */
  itemBytes?(item: T): number;
  /** Called on every failed upload (logging); never throws into the writer. */
  onError?: (err: unknown, blobName: string, attempt: number) => void;
}

export interface BatchedBlobWriterStats {
  /** Items in blobs confirmed written. */
  written: number;
  /** Item-attempts retried after a failed upload (a batch of 100 retried twice counts 200). */
  retried: number;
  /** Items refused because the buffer was full (or still unwritten when a shutdown flush gave up). */
  dropped: number;
  /** Items in memory now: pending, being written, or waiting for a retry. */
  buffered: number;
  batches_written: number;
  failed_uploads: number;
  capacity: number;
  writer: string;
  /** True from a failed upload until the next successful one. */
  failing: boolean;
  last_error?: string;
}

interface Batch<P, T> {
  readonly blobName: string;
  readonly partition: P;
  items: T[];
  attempts: number;
}

/** What `remove` took back. */
export interface Removed<T> {
  items: T[];
  /**
   * Names of tried batches that lost items. An earlier attempt under such a name may still land, with the items;
   * the rest of the batch moves to a new name, so the caller can claim the old one (an empty If-None-Match write
   * makes a late attempt fail) or, when it has landed, erase the items from it.
   */
  abandonedNames: string[];
}

interface Pending<P, T> {
  readonly partition: P;
  items: T[];
  bytes: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function newWriterId(): string {
  return `w${process.pid.toString(36)}${randomBytes(4).toString('hex')}`;
}

export class BatchedBlobWriter<P, T> {
  private readonly pending = new Map<string, Pending<P, T>>();
  private readonly ready: Batch<P, T>[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private bufferedCount = 0;
  private bufferedBytes = 0;
  private seq = 0;
  private timer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryWaiting: Batch<P, T>[] = [];
  private closed = false;
  private readonly counters = { written: 0, retried: 0, dropped: 0, batches_written: 0, failed_uploads: 0 };
  private lastError: string | undefined;
  private failing = false;

  constructor(private readonly options: BatchedBlobWriterOptions<P, T>) {}

  get writerId(): string {
    return this.options.writerId;
  }

  /** Buffer one item of the partition `key` (described by `partition`); false when refused because the buffer is full. */
  add(key: string, partition: P, item: T): boolean {
    const bytes = this.options.itemBytes?.(item) ?? 0;
    const { maxBufferedBytes } = this.options;
    const full =
      this.bufferedCount >= this.options.maxBufferedRecords ||
      (maxBufferedBytes !== undefined && this.bufferedBytes + bytes > maxBufferedBytes);
    if (full || this.closed) {
      this.counters.dropped++;
      return false;
    }
    let p = this.pending.get(key);
    if (!p) {
      p = { partition, items: [], bytes: 0 };
      this.pending.set(key, p);
    }
    p.items.push(item);
    p.bytes += bytes;
    this.bufferedCount++;
    this.bufferedBytes += bytes;
    const { maxBatchBytes } = this.options;
    if (p.items.length >= this.options.maxBatchRecords || (maxBatchBytes !== undefined && p.bytes >= maxBatchBytes)) {
      this.cut(key, p);
      this.pump();
    } else {
      this.timer ??= setTimeout(() => this.onTimer(), this.options.flushIntervalMs);
      this.timer.unref?.();
    }
    return true;
  }

  /**
   * Take every buffered item that `matches` out of the buffer (pending, cut and waiting for a retry): it will not be
   * written. Items in an upload in flight cannot be taken back; `settled()` waits for those. A batch that had
   * already been tried keeps its name, so its blob may exist with the item: the caller must look in Blob too.
   */
  remove(matches: (item: T) => boolean): Removed<T> {
    const removed: T[] = [];
    const abandonedNames: string[] = [];
    const filter = (items: T[]) => {
      const kept: T[] = [];
      for (const item of items) (matches(item) ? removed : kept).push(item);
      return kept;
    };
    for (const [key, p] of this.pending) {
      p.items = filter(p.items);
      p.bytes = p.items.reduce((n, item) => n + (this.options.itemBytes?.(item) ?? 0), 0);
      if (!p.items.length) this.pending.delete(key);
    }
    const now = new Date();
    for (const list of [this.ready, this.retryWaiting]) {
      const next: Batch<P, T>[] = [];
      for (const b of list) {
        const kept = filter(b.items);
        if (kept.length === b.items.length) next.push(b);
        else if (b.attempts === 0) {
          if (kept.length) next.push({ ...b, items: kept });
        } else {
          abandonedNames.push(b.blobName);
          if (kept.length)
            next.push({
              ...b,
              blobName: this.options.blobName(b.partition, now, this.options.writerId, this.seq++),
              items: kept,
              attempts: 0,
            });
        }
      }
      list.splice(0, list.length, ...next);
    }
    this.bufferedCount -= removed.length;
    this.bufferedBytes -= removed.reduce((n, item) => n + (this.options.itemBytes?.(item) ?? 0), 0);
    return { items: removed, abandonedNames };
  }

  /**
   * Buffer all of `entries` (each in its own partition `key`), or none: false (each counted as dropped) when the
   * buffer has no room for all of them. A caller that answers "not stored" for a refusal needs this, since `add` one by one may already
   * have cut and started uploading a batch holding the first items.
   */
  addAll(entries: ReadonlyArray<{ key: string; partition: P; item: T }>): boolean {
    const bytes = entries.reduce((n, e) => n + (this.options.itemBytes?.(e.item) ?? 0), 0);
    const { maxBufferedBytes } = this.options;
    const full =
      this.bufferedCount + entries.length > this.options.maxBufferedRecords ||
      (maxBufferedBytes !== undefined && this.bufferedBytes + bytes > maxBufferedBytes);
    if (full || this.closed) {
      this.counters.dropped += entries.length;
      return false;
    }
    for (const e of entries) this.add(e.key, e.partition, e.item);
    return true;
  }

  /** Resolves when the uploads in flight now have settled (written, or back in the buffer for a retry). */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  stats(): BatchedBlobWriterStats {
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
   * Write everything buffered now, retrying failed batches until they are written or `timeoutMs` passes; items
   * still unwritten then stay buffered. Used at shutdown (through close) and by tests.
   */
  async flush(timeoutMs = 30000): Promise<BatchedBlobWriterStats> {
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
   * Flush (which waits for in-flight uploads up to `timeoutMs`), then refuse new items. Batches never started are
   * counted as dropped at once. An upload still in flight after another `inflightGraceMs` stays in `buffered`: it
   * is counted when it settles, as written if it lands, as dropped if it fails (no retry after close), so that
   * written + dropped + buffered stays the number of items accepted (less those removed), each counted once.
   */
  async close(timeoutMs = 30000, inflightGraceMs = Math.min(timeoutMs, 5000)): Promise<BatchedBlobWriterStats> {
    await this.flush(timeoutMs);
    this.closed = true;
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    this.releaseRetries();
    const unsent = [...this.ready.map((b) => b.items), ...[...this.pending.values()].map((p) => p.items)];
    const unsentCount = unsent.reduce((n, items) => n + items.length, 0);
    this.ready.length = 0;
    this.pending.clear();
    this.counters.dropped += unsentCount;
    this.bufferedCount -= unsentCount;
    this.bufferedBytes -= unsent.flat().reduce((n, item) => n + (this.options.itemBytes?.(item) ?? 0), 0);
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

  /** Turn the pending items of one partition into batches with their final blob names. */
  private cut(key: string, p: Pending<P, T>): void {
    this.pending.delete(key);
    const now = new Date();
    const { maxBatchRecords, maxBatchBytes = Infinity } = this.options;
    let items: T[] = [];
    let bytes = 0;
    const emit = () => {
      const blobName = this.options.blobName(p.partition, now, this.options.writerId, this.seq++);
      this.ready.push({ blobName, partition: p.partition, items, attempts: 0 });
      items = [];
      bytes = 0;
    };
    for (const item of p.items) {
      const size = this.options.itemBytes?.(item) ?? 0;
      if (items.length && (items.length >= maxBatchRecords || bytes + size > maxBatchBytes)) emit();
      items.push(item);
      bytes += size;
    }
    if (items.length) emit();
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

  private forget(items: readonly T[]): void {
    this.bufferedCount -= items.length;
    this.bufferedBytes -= items.reduce((n, item) => n + (this.options.itemBytes?.(item) ?? 0), 0);
  }

  private async write(batch: Batch<P, T>): Promise<void> {
    batch.attempts++;
    // The items of this attempt: remove() may filter the batch while it waits for a retry, never while in flight.
    const items = batch.items;
    try {
      await this.options.upload(batch.blobName, this.options.body(items));
      this.counters.written += items.length;
      this.counters.batches_written++;
      this.forget(items);
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
        this.counters.dropped += items.length;
        this.forget(items);
        return;
      }
      this.counters.retried += items.length;
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

/**
 * An uploader to `container` that writes each name once: If-None-Match: *, and an existing blob of the same name is
 * the same batch (a retry whose first attempt landed). Creates the container when it is missing (Azurite starts empty).
 */
export function idempotentBlobUploader(container: string, contentType: string): BatchUploader {
  return async (blobName, body) => {
    const client = getContainerClient(container);
    const upload = () =>
      client.getBlockBlobClient(blobName).upload(body, body.length, {
        conditions: { ifNoneMatch: '*' },
        blobHTTPHeaders: { blobContentType: contentType },
      });
    try {
      await upload();
    } catch (err) {
      const e = err as { statusCode?: number; code?: string };
      if (e.statusCode === 409 && e.code === 'BlobAlreadyExists') return;
      if (e.statusCode === 404 && e.code === 'ContainerNotFound') {
        await client.createIfNotExists();
        await upload();
        return;
      }
      throw err;
    }
  };
}
