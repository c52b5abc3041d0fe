// The `sender_stats` feature view, computed: per sender (the keyed hash of the sender domain) the number of
// messages in the window and the share of them that were spam. Two sources feed it: labelled training mail (the
// label is the truth) and the inference log (the label is the model's prediction, since logs hold no ground truth;
// the log holds no addresses, only this hashed key). `npm run features:materialize`
// writes the result to the online store in Feast's layout; `SenderHistory` gives the same values point in time,
// for training rows (Feast's historical retrieval).
import { Environment } from '../../platform/blobLayout';
import { SENDER_WINDOW_DAYS, SenderFeatures, UNKNOWN_SENDER } from '../features/featureList';
import { emptyWindowStats, readWindow } from '../../logs/windowReader';
import type { SenderFeatureRow } from './featureStore';

export interface SenderEvent {
  /** Keyed hash of the sender domain. */
  readonly senderKey: string;
  readonly spam: boolean;
  readonly time?: Date;
}

const DAY_MS = 86_400_000;

/**
 * How long after a message its label counts in the sender statistics: the store is materialized once a day, so a
 * training row sees the labels of mail at least this much older than itself, never those of the same campaign's
 * last few minutes.
 */
export const SENDER_LABEL_DELAY_DAYS = 1;

/** The moment whose store a message received at `time` reads, point in time: labels at least the delay older. */
export function labelsKnownAt(time: Date): Date {
  return new Date(time.getTime() - SENDER_LABEL_DELAY_DAYS * DAY_MS);
}

/** Index of the first element of ascending `times` that is >= t (`strict`: > t). */
function lowerBound(times: readonly number[], t: number, strict = false): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid] < t || (strict && times[mid] === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Point-in-time sender statistics: what the store would have answered at a given moment had it been materialized
 * then from these (timed, labelled) events. `at(key, asOf)` counts the key's events in the window ending at `asOf`
 * (both ends included), or is `UNKNOWN_SENDER` when the window holds none of its mail; the materializer writes the
 * same values (`rowsAt`, `aggregateSenderStats`).
 */
export class SenderHistory {
  private readonly byKey = new Map<string, { times: number[]; spamBefore: number[] }>();

  constructor(
    events: Iterable<SenderEvent>,
    readonly windowDays = SENDER_WINDOW_DAYS,
  ) {
    const grouped = new Map<string, { time: number; spam: boolean }[]>();
    for (const e of events) {
      if (!e.time) throw new Error('SenderHistory needs the time of every event');
      const list = grouped.get(e.senderKey) ?? [];
      list.push({ time: e.time.getTime(), spam: e.spam });
      grouped.set(e.senderKey, list);
    }
    for (const [key, list] of grouped) {
      list.sort((a, b) => a.time - b.time);
      const spamBefore = [0];
      for (const e of list) spamBefore.push(spamBefore[spamBefore.length - 1] + (e.spam ? 1 : 0));
      this.byKey.set(key, { times: list.map((e) => e.time), spamBefore });
    }
  }

  at(senderKey: string | undefined, asOf: Date): SenderFeatures {
    const entry = senderKey === undefined ? undefined : this.byKey.get(senderKey);
    if (!entry) return UNKNOWN_SENDER;
    const first = lowerBound(entry.times, asOf.getTime() - this.windowDays * DAY_MS);
    const end = lowerBound(entry.times, asOf.getTime(), true);
    const n = end - first;
    return n > 0 ? { message_count_30d: n, spam_rate_30d: (entry.spamBefore[end] - entry.spamBefore[first]) / n } : UNKNOWN_SENDER;
  }

  /**
   * The rows the materializer writes as of `asOf`: one per sender with mail in the window, by key. `expiring`: each
   * row carries when the window, moving on from `asOf`, stops holding the sender's mail (its newest event in the
   * window + the window; exactly then `at` turns to the unknown sender), so a store refreshed from new mail forgets
   * a sender that stopped sending, as `at` does. A fixed snapshot (the training period's store) is not expiring.
   */
  rowsAt(asOf: Date, expiring = false): SenderFeatureRow[] {
    const rows: SenderFeatureRow[] = [];
    for (const [entity, entry] of [...this.byKey].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      const features = this.at(entity, asOf);
      if (features === UNKNOWN_SENDER) continue;
      const newest = entry.times[lowerBound(entry.times, asOf.getTime(), true) - 1];
      rows.push({ entity, features, eventTime: asOf, ...(expiring ? { expiresAt: new Date(newest + this.windowDays * DAY_MS + 1) } : {}) });
    }
    return rows;
  }
}

/**
 * Aggregate events into one row per sender, counting only events inside the window ending at `asOf` (both ends
 * included): what `npm run features:materialize` writes. Every event needs its time.
 */
export function aggregateSenderStats(events: Iterable<SenderEvent>, asOf: Date, windowDays = SENDER_WINDOW_DAYS): SenderFeatureRow[] {
  return new SenderHistory(events, windowDays).rowsAt(asOf, true);
}

/**
 * Sender events from the inference log of `env` in the window, read through the window reader: compacted Parquet
 * plus raw blobs not yet compacted, each row once even while a compaction runs. Rows without a sender key are
 * skipped. Reports progress per batch read.
 */
export async function senderEventsFromLogs(
  env: Environment,
  asOf: Date,
  windowDays = SENDER_WINDOW_DAYS,
  progress: (message: string) => void = () => undefined,
): Promise<SenderEvent[]> {
  const from = new Date(asOf.getTime() - windowDays * DAY_MS);
  const stats = emptyWindowStats();
  const events: SenderEvent[] = [];
  let rows = 0;
  for await (const batch of readWindow(env, from, asOf, { columns: ['time', 'sender_key', 'prediction'], stats })) {
    const keys = batch.text.sender_key!;
    const predictions = batch.text.prediction!;
    const times = batch.time!;
    for (let i = 0; i < batch.rowCount; i++) {
      const senderKey = keys[i];
      if (senderKey) events.push({ senderKey, spam: predictions[i] === 'spam', time: new Date(times[i]) });
    }
    rows += batch.rowCount;
    progress(`  read ${rows} log rows, ${events.length} with a sender key`);
  }
  progress(
    `  read ${rows} log rows (${stats.parquetRows} from Parquet, ${stats.rawRows} from raw blobs), ${events.length} events with a sender key`,
  );
  return events;
}
