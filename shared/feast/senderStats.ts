// The `sender_stats` feature view, computed: per sender (the keyed hash of the sender domain) the number of
// messages in the window and the share of them that were spam. Two sources feed it: labelled training mail (the
// label is the truth) and the inference log (the label is the model's prediction, since logs hold no ground truth;
// DESIGN.md keeps addresses out of logs, so the log already carries the hashed key). `npm run features:materialize`
// writes the result to the online store in Feast's layout.
import { CONTAINERS, Environment, parseLogPartition, partitionStart } from '../blobLayout';
import { getContainerClient } from '../blobStorage';
import { SENDER_WINDOW_DAYS, SenderFeatures } from '../features/featureList';
import { parseRawLog } from '../logs/rawLogFormat';
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
 * Sender events from the raw inference log of `env` in the window (each raw blob holds whole rows; rows without a
 * sender key are skipped). Reports progress per blob read.
 */
export async function senderEventsFromLogs(
  env: Environment,
  asOf: Date,
  windowDays = SENDER_WINDOW_DAYS,
  progress: (message: string) => void = () => undefined,
): Promise<SenderEvent[]> {
  const container = getContainerClient(CONTAINERS.inferenceLogs);
  const from = asOf.getTime() - windowDays * 86_400_000;
  const events: SenderEvent[] = [];
  const seen = new Set<string>();
  let blobs = 0;
  for await (const blob of container.listBlobsFlat({ prefix: `raw/env=${env}/` })) {
    const partition = parseLogPartition(blob.name);
    if (!partition || partition.kind !== 'raw') continue;
    const start = partitionStart(partition).getTime();
    if (start + 3_600_000 <= from || start > asOf.getTime()) continue;
    const rows = parseRawLog(await container.getBlobClient(blob.name).downloadToBuffer());
    for (const row of rows) {
      // A record is in the log once by contract; the guard keeps a re-delivered blob from counting twice.
      if (!row.sender_key || seen.has(row.request_id)) continue;
      seen.add(row.request_id);
      events.push({ senderKey: row.sender_key, spam: row.prediction === 'spam', time: new Date(row.time) });
    }
    if (++blobs % 50 === 0) progress(`  read ${blobs} raw log blobs, ${events.length} events`);
  }
  progress(`  read ${blobs} raw log blobs, ${events.length} events with a sender key`);
  return events;
}
