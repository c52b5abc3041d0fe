// The stored feedback: the dataset retraining reads (latest record per message) and erase by request id.
import { buffer } from 'node:stream/consumers';
import type { ContainerClient } from '@azure/storage-blob';
import { CONTAINERS, feedbackBlobDay, feedbackDayPrefix } from '../platform/blobLayout';
import { getContainerClient, isBlobNotFound } from '../platform/blobStorage';
import { FeedbackRecord, latestPerMessage, parseFeedbackLines } from './feedbackRecord';
import { currentFeedbackWriter, FEEDBACK_CONTENT_TYPE, FeedbackWriter } from './feedbackWriter';

/** Blob requests in flight while reading or scanning the retained days. */
const CONCURRENCY = 16;

/** Conditional rewrites of one blob lost to concurrent erases before giving up (each loss re-reads the blob). */
const MAX_REWRITE_ATTEMPTS = 5;

export interface FeedbackBlob {
  readonly name: string;
  readonly day: string;
}

function feedbackContainer(): ContainerClient {
  return getContainerClient(CONTAINERS.feedback);
}

/** Every feedback blob of the retained days up to `untilDay` (inclusive), oldest day first. */
export async function listFeedbackBlobs(untilDay?: string): Promise<FeedbackBlob[]> {
  const out: FeedbackBlob[] = [];
  try {
    for await (const item of feedbackContainer().listBlobsFlat({ prefix: feedbackDayPrefix() })) {
      const day = feedbackBlobDay(item.name);
      if (day !== undefined && (untilDay === undefined || day <= untilDay)) out.push({ name: item.name, day });
    }
  } catch (err) {
    if (isBlobNotFound(err)) return [];
    throw err;
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** `work` over `items` with at most CONCURRENCY in flight; results in input order. */
async function mapConcurrent<I, O>(items: readonly I[], work: (item: I) => Promise<O>): Promise<O[]> {
  const out = new Array<O>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, items.length) }, worker));
  return out;
}

export interface ReadFeedbackOptions {
  /** Records received before this time (exclusive); default now. */
  until?: Date;
  /** Lines that are not a valid record are skipped and reported here. */
  onInvalid?: (blobName: string, reason: string) => void;
}

/**
 * The feedback dataset as of `until`: every stored record received before it, the latest per message key (a
 * resubmitted message counts once, with its latest label). What retraining reads.
 */
export async function readFeedback({ until = new Date(), onInvalid }: ReadFeedbackOptions = {}): Promise<FeedbackRecord[]> {
  const blobs = await listFeedbackBlobs(until.toISOString().slice(0, 10));
  const untilMs = until.getTime();
  const perBlob = await mapConcurrent(blobs, async (b) => {
    let body: Buffer;
    try {
      body = await feedbackContainer().getBlobClient(b.name).downloadToBuffer();
    } catch (err) {
      // Erased meanwhile (an emptied blob is deleted).
      if (isBlobNotFound(err)) return [];
      throw err;
    }
    return parseFeedbackLines(body, (_line, reason) => onInvalid?.(b.name, reason)).filter((r) => Date.parse(r.received_at) < untilMs);
  });
  return latestPerMessage(perBlob.flat());
}

export interface EraseResult {
  request_id: string;
  /** Records removed: stored ones plus those still in this instance's buffer. */
  removed: number;
  /** Days whose blobs held records of the request id. */
  days: string[];
  /** Of `removed`, those taken from the buffer before they were written. */
  buffered: number;
  /** Feedback blobs read to find them (the cost: every blob of the retained days). */
  blobs_scanned: number;
}

function lineOfRequest(line: string, requestId: string, needle: string): boolean {
  try {
    return (JSON.parse(line) as { request_id?: unknown })?.request_id === requestId;
  } catch {
    return line.includes(needle);
  }
}

/**
 * Rewrite one blob without the records of `requestId` (or delete it when none is left, unless `keepEmpty`); the
 * records removed.
 */
async function eraseFromBlob(name: string, requestId: string, keepEmpty = false): Promise<number> {
  const blob = feedbackContainer().getBlockBlobClient(name);
  for (let attempt = 1; ; attempt++) {
    let body: Buffer;
    let etag: string;
    try {
      const res = await blob.download();
      etag = res.etag ?? '';
      body = await buffer(res.readableStreamBody!);
    } catch (err) {
      if (isBlobNotFound(err)) return 0;
      throw err;
    }
    // Most blobs do not hold the id: a byte search spares parsing them (the id is a JSON-safe token).
    const needle = `"request_id":${JSON.stringify(requestId)}`;
    if (!body.includes(needle)) return 0;
    // Line by line, so that every other line is kept byte for byte; a line that is not even JSON goes if it names the id.
    const lines = body
      .toString('utf8')
      .split('\n')
      .filter((l) => l.trim());
    const kept = lines.filter((l) => !lineOfRequest(l, requestId, needle));
    if (kept.length === lines.length) return 0;
    try {
      if (kept.length === 0 && !keepEmpty) await blob.delete({ conditions: { ifMatch: etag } });
      else {
        const text = kept.map((l) => `${l}\n`).join('');
        await blob.upload(text, Buffer.byteLength(text), {
          conditions: { ifMatch: etag },
          blobHTTPHeaders: { blobContentType: FEEDBACK_CONTENT_TYPE },
        });
      }
      return lines.length - kept.length;
    } catch (err) {
      const status = (err as { statusCode?: number }).statusCode;
      // Another erase rewrote the blob since it was read: read it again.
      if (status === 412 && attempt < MAX_REWRITE_ATTEMPTS) continue;
      if (isBlobNotFound(err)) return 0;
      throw err;
    }
  }
}

/**
 * Remove every record of `requestId`: first from this instance's buffer (so that nothing of it is written after
 * the answer), then from every stored blob of the retained days, each rewritten with an ETag condition so that
 * concurrent erases do not undo each other.
 */
export async function eraseFeedback(requestId: string, writer: FeedbackWriter | undefined = currentFeedbackWriter()): Promise<EraseResult> {
  const { removed: buffered, abandonedNames } = (await writer?.eraseBuffered(requestId)) ?? { removed: 0, abandonedNames: [] };
  // A failed upload of a batch the erase took records from may still land later under its old name. Claiming the
  // name with an empty blob makes such a late write fail (it is conditional on the name being free); where the
  // write has already landed, the records are taken out of it, and the blob stays (empty if need be) so that no
  // later attempt can land on a free name again. Its records were counted as buffered, so they are not counted twice.
  await mapConcurrent(abandonedNames, (name) => claimAbandonedBlob(name, requestId));
  const abandoned = new Set(abandonedNames);
  const blobs = (await listFeedbackBlobs()).filter((b) => !abandoned.has(b.name));
  const counts = await mapConcurrent(blobs, (b) => eraseFromBlob(b.name, requestId));
  const days = [...new Set(blobs.filter((_, i) => counts[i] > 0).map((b) => b.day))].sort();
  const stored = counts.reduce((n, c) => n + c, 0);
  return { request_id: requestId, removed: stored + buffered, days, buffered, blobs_scanned: blobs.length };
}

async function claimAbandonedBlob(name: string, requestId: string): Promise<void> {
  try {
    await feedbackContainer()
      .getBlockBlobClient(name)
      .upload('', 0, { conditions: { ifNoneMatch: '*' }, blobHTTPHeaders: { blobContentType: FEEDBACK_CONTENT_TYPE } });
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode !== 409) throw err;
    await eraseFromBlob(name, requestId, true);
  }
}
