// The `sender_stats` feature view, computed: per sender (the keyed hash of the sender domain) the number of
// messages in the window and the share of them that were spam. Two sources feed it: labelled training mail (the
// label is the truth) and the inference log (the label is the model's prediction, since logs hold no ground truth;
// DESIGN.md keeps addresses out of logs, so the log already carries the hashed key). `npm run features:materialize`
// writes the result to the online store in Feast's layout.
import { Environment } from '../blobLayout';
import { SENDER_WINDOW_DAYS, SenderFeatures } from '../features/featureList';
import { emptyWindowStats, readWindow } from '../logs/windowReader';
import type { SenderFeatureRow } from '../featureStore';

export interface SenderEvent {
  /** Keyed hash of the sender domain. */
  readonly senderKey: string;
  readonly spam: boolean;
  readonly time?: Date;
}

/** Aggregate events into one row per sender, counting only events inside the window ending at `asOf`. */
export function aggregateSenderStats(events: Iterable<SenderEvent>, asOf: Date, windowDays = SENDER_WINDOW_DAYS): SenderFeatureRow[] {
  const from = asOf.getTime() - windowDays * 86_400_000;
  const counts = new Map<string, { n: number; spam: number }>();
  for (const e of events) {
    if (e.time && (e.time.getTime() < from || e.time.getTime() > asOf.getTime())) continue;
    const c = counts.get(e.senderKey) ?? { n: 0, spam: 0 };
    c.n++;
    if (e.spam) c.spam++;
    counts.set(e.senderKey, c);
  }
  return [...counts.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([entity, c]) => ({
      entity,
      features: { message_count_30d: c.n, spam_rate_30d: c.spam / c.n } satisfies SenderFeatures,
      eventTime: asOf,
    }));
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
  const from = new Date(asOf.getTime() - windowDays * 86_400_000);
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
  progress(`  read ${rows} log rows (${stats.parquetRows} from Parquet, ${stats.rawRows} from raw blobs), ${events.length} events with a sender key`);
  return events;
}
