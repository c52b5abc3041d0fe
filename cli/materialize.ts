// `npm run features:materialize`: compute the Feast feature view `sender_stats` and write it to the online store
// (Redis, Feast's layout) — what `feast materialize` does for a real Feast deployment of aks/feast/.
//
//   npm run features:materialize                                  # from the training period of the corpus (labels)
//   npm run features:materialize -- --source logs --env production --days 30   # from the inference log (predictions)
//   options: --as-of ISO-time (logs), --ttl-seconds N (Redis key TTL), --dry-run (compute and print, write nothing)
//
// The training source writes the store the committed model was evaluated with: the training period's labelled
// mail as of its end (shared/feast/trainingSenderStats.ts), the same rows the local stack writes at start.
// Rows in Redis with a newer event time (materialized from logs since) are kept.
//
// Reads REDIS_URL, FEAST_PROJECT, SENDER_HASH_KEY and the storage settings like the app does.
import { isEnvironment } from '../shared/blobLayout';
import { getConfig } from '../shared/config';
import { aggregateSenderStats, senderEventsFromLogs } from '../shared/feast/senderStats';
import { trainingSenderStats } from '../shared/feast/trainingSenderStats';
import { getFeatureStore, resetFeatureStore, SenderFeatureRow } from '../shared/featureStore';
import { SENDER_FEATURE_VIEW, SENDER_WINDOW_DAYS } from '../shared/features/featureList';

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const started = performance.now();
  const config = getConfig();
  const source = option('source') ?? 'training';
  const env = option('env') ?? 'production';
  const days = Number(option('days') ?? SENDER_WINDOW_DAYS);
  const asOf = option('as-of') ? new Date(option('as-of')!) : new Date();
  const ttlSeconds = option('ttl-seconds') ? Number(option('ttl-seconds')) : undefined;
  const dryRun = process.argv.includes('--dry-run');
  if (source !== 'training' && source !== 'logs') throw new Error(`--source must be training or logs, got ${source}`);
  if (!isEnvironment(env)) throw new Error(`--env must be production or staging, got ${env}`);
  if (!Number.isFinite(days) || days <= 0) throw new Error(`--days must be a positive number`);
  if (Number.isNaN(asOf.getTime())) throw new Error('--as-of must be an ISO time');

  let rows: SenderFeatureRow[];
  let from: string;
  if (source === 'logs') {
    console.log(`Materializing ${SENDER_FEATURE_VIEW} (Feast project ${config.feastProject}) from the ${env} inference log, last ${days} days to ${asOf.toISOString()}`);
    const events = await senderEventsFromLogs(env, asOf, days, console.log);
    rows = aggregateSenderStats(events, asOf, days);
    from = `${events.length} events`;
  } else {
    console.log(`Materializing ${SENDER_FEATURE_VIEW} (Feast project ${config.feastProject}) from the training period of the corpus (labels)`);
    if (option('as-of') || option('days')) throw new Error('--as-of and --days apply to --source logs; the training source is the store as of the training period\'s end');
    const stats = await trainingSenderStats(config.senderHashKey, { progress: (line) => console.log(`  ${line}`) });
    rows = stats.rows;
    from = `${stats.events} events (${stats.messages} messages, those with a sender domain), as of ${stats.asOf.toISOString()} (the training period's end), last ${SENDER_WINDOW_DAYS} days`;
  }
  const spammy = rows.filter((r) => r.features.spam_rate_30d >= 0.5).length;
  console.log(`${rows.length} senders (${spammy} with spam rate >= 0.5) from ${from}`);
  if (dryRun) {
    for (const r of rows.slice(0, 10)) console.log(`  ${r.entity} ${JSON.stringify(r.features)}`);
    console.log('Dry run: nothing written');
    return;
  }
  const store = getFeatureStore();
  let written = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    written += await store.writeSenderFeatures(rows.slice(i, i + 1000), { ttlSeconds });
    console.log(`  wrote ${Math.min(i + 1000, rows.length)}/${rows.length}`);
  }
  console.log(`Wrote ${written} rows to Redis (${rows.length - written} kept because the stored row was newer) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

main()
  .then(() => resetFeatureStore())
  .then(() => process.exit(0))
  .catch((err) => {
    console.error(`features:materialize failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
