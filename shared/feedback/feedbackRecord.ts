// One stored feedback record, and the rules that make the feedback dataset: the message key, the record's line
// format, and "latest label per message wins".
//
// The record holds the message's exact bytes (base64): the RFC 822 message sent raw, or for the structured form the
// RFC 822 message the gateway writes from it and parses (emailSource), i.e. exactly what the features saw. The key
// is a keyed hash (HMAC-SHA256 with SENDER_HASH_KEY) of those bytes: stable across resubmissions of the same message,
// and not checkable against a list of candidate messages without the key.
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { getConfig } from '../platform/config';
import { emailSource, EmailInput, isRawEmail } from '../serving/features/email';
import { FEEDBACK_LABELS, FeedbackInput, FeedbackLabel } from './feedbackRequest';

export type FeedbackForm = 'raw' | 'structured';

export interface FeedbackRecord {
  /** Unique and sortable: `{received time}-{writer}-{seq}`; breaks ties between records received in the same millisecond. */
  readonly feedback_id: string;
  /** Hex HMAC-SHA256 of the message bytes (64 characters). */
  readonly message_key: string;
  readonly label: FeedbackLabel;
  /**
   * When the label counts from: the client's `labelled_at` when it gave one, else when the gateway received it. ISO
   * 8601 UTC, milliseconds. The day partition and the dataset's cut-off both follow it.
   */
  readonly received_at: string;
  /** The prediction's request id (with `#i` for a batch member), when the client gave it. */
  readonly request_id?: string;
  /** How the message came in: the stored bytes are the raw message, or the one written from the structured fields. */
  readonly form: FeedbackForm;
  /** Base64 of the RFC 822 message bytes. */
  readonly message: string;
}

const recordSchema = z
  .object({
    feedback_id: z.string().min(1),
    message_key: z.string().regex(/^[0-9a-f]{64}$/),
    label: z.enum(FEEDBACK_LABELS),
    received_at: z.iso.datetime(),
    request_id: z.string().min(1).optional(),
    form: z.enum(['raw', 'structured']),
    // One character class, not z.base64(): a grouped pattern overflows V8's regex stack on a message of megabytes.
    message: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/),
  })
  .strict();

/** Hex HMAC-SHA256 of the message bytes with the app's hash key. */
export function messageKey(bytes: Uint8Array, key: string = getConfig().senderHashKey): string {
  return createHmac('sha256', key).update(bytes).digest('hex');
}

/** The bytes retraining recomputes the features from: what the gateway parses for this email. */
export function canonicalMessage(email: EmailInput): Buffer {
  return emailSource(email);
}

/** The record of one feedback item received at `receivedAt`. */
export function toFeedbackRecord(input: FeedbackInput, receivedAt: Date, feedbackId: string, key?: string): FeedbackRecord {
  const bytes = canonicalMessage(input.email);
  return {
    feedback_id: feedbackId,
    message_key: messageKey(bytes, key),
    label: input.label,
    received_at: receivedAt.toISOString(),
    ...(input.requestId !== undefined ? { request_id: input.requestId } : {}),
    form: isRawEmail(input.email) ? 'raw' : 'structured',
    message: bytes.toString('base64'),
  };
}

/** One NDJSON line (no newline): the stored form of a record. */
export function serializeFeedbackRecord(record: FeedbackRecord): string {
  return JSON.stringify(record);
}

/** The records of a feedback blob; lines that are not a valid record are passed to `onInvalid` and skipped. */
export function parseFeedbackLines(body: Buffer | string, onInvalid?: (line: string, reason: string) => void): FeedbackRecord[] {
  const out: FeedbackRecord[] = [];
  for (const line of body.toString().split('\n')) {
    if (!line.trim()) continue;
    let parsed: ReturnType<typeof recordSchema.safeParse>;
    try {
      parsed = recordSchema.safeParse(JSON.parse(line));
    } catch {
      // A fixed reason: JSON.parse's message quotes the line, which holds the message text.
      onInvalid?.(line, 'not JSON');
      continue;
    }
    if (parsed.success) out.push(parsed.data);
    else onInvalid?.(line, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  }
  return out;
}

/** Later of two records: received later, or in the same millisecond the larger feedback_id (a total order). */
export function isLater(a: FeedbackRecord, b: FeedbackRecord): boolean {
  if (a.received_at !== b.received_at) return Date.parse(a.received_at) > Date.parse(b.received_at);
  return a.feedback_id > b.feedback_id;
}

/**
 * The feedback dataset: the latest record per message key, whatever order the records come in; a resubmitted
 * message counts once, with its latest label. Sorted by message key, so the same records always give the same list.
 */
export function latestPerMessage(records: Iterable<FeedbackRecord>): FeedbackRecord[] {
  const latest = new Map<string, FeedbackRecord>();
  for (const r of records) {
    const current = latest.get(r.message_key);
    if (!current || isLater(r, current)) latest.set(r.message_key, r);
  }
  return [...latest.values()].sort((a, b) => (a.message_key < b.message_key ? -1 : a.message_key > b.message_key ? 1 : 0));
}
