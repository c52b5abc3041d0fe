// `npm run features:materialize`: compute the Feast feature view `sender_stats` and write it to the online store
// (Redis, Feast's layout) — what `feast materialize` does for a real Feast deployment of aks/feast/.
//
//   npm run features:materialize                                     # from the training period of the corpus (labels)
//   npm run features:materialize -- --source logs --env production   # from the inference log (predictions)
//   options: --as-of ISO-time (logs; default now), --ttl-seconds N (Redis key TTL), --dry-run (compute and print,
//   write nothing)
//
// The window is part of the features' definition (`message_count_30d`, `spam_rate_30d`: SENDER_WINDOW_DAYS days
// before the as-of time), so it is not an option.
//
// The training source writes the store the committed model was evaluated with: the training period's labelled
// mail as of its end (training/trainingSenderStats.ts), the same rows the local stack writes at start.
// Rows in Redis with a newer event time (materialized from logs since) are kept.
//
// Reads REDIS_URL, FEAST_PROJECT, SENDER_HASH_KEY and the storage settings like the app does.
import { Environment, ENVIRONMENTS } from '../../shared/platform/blobLayout';
import { getConfig } from '../../shared/platform/config';
import { aggregateSenderStats, senderEventsFromLogs } from '../../shared/serving/featureStore/senderStats';
import { trainingSenderStats } from '../../training/trainingSenderStats';
import { getFeatureStore, resetFeatureStore, SenderFeatureRow } from '../../shared/serving/featureStore/featureStore';
import { SENDER_FEATURE_VIEW, SENDER_WINDOW_DAYS } from '../../shared/serving/features/featureList';
import { parseChoice, parseCliArgs, parseInteger, parseIsoTime, runCli, UsageError } from './cliArgs';

const USAGE = `usage: npm run features:materialize [-- options]
  --source training|logs    training: the corpus' training period, labelled (default); logs: the inference log of --env, predicted labels
  --env production|staging  the inference log to read (--source logs; default production)
  --as-of <ISO time>        the end of the ${SENDER_WINDOW_DAYS}-day window (--source logs; default now)
  --ttl-seconds <N>         Redis key TTL in seconds, a positive integer (default: no TTL)
  --dry-run                 compute and print, write nothing`;

interface MaterializeArgs {
  source: 'training' | 'logs';
  env: Environment;
  asOf: Date;
  ttlSeconds: number | undefined;
  dryRun: boolean;
}

/** The command line, checked before anything is read or connected to. */
function parseArguments(argv: string[]): MaterializeArgs {
  const { values } = parseCliArgs(argv, {
    source: { type: 'string' },
    env: { type: 'string' },
    'as-of': { type: 'string' },
    'ttl-seconds': { type: 'string' },
    'dry-run': { type: 'boolean', default: false },
  });
  const source = values.source === undefined ? 'training' : parseChoice('source', values.source, ['training', 'logs']);
  const logsOnly = (['as-of', 'env'] as const).filter((o) => values[o] !== undefined).map((o) => `--${o}`);
  if (source === 'training' && logsOnly.length) {
    throw new UsageError(
      `${logsOnly.join(' and ')} ${logsOnly.length === 1 ? 'applies' : 'apply'} to --source logs; the training source is the store as of the training period's end`,
    );
  }
  return {
    source,
    env: values.env === undefined ? 'production' : parseChoice('env', values.env, ENVIRONMENTS),
    asOf: values['as-of'] === undefined ? new Date() : parseIsoTime('as-of', values['as-of']),
    ttlSeconds:
      values['ttl-seconds'] === undefined ? undefined : parseInteger('ttl-seconds', values['ttl-seconds'], { min: 1, max: 2_147_483_647 }),
    dryRun: values['dry-run'],
  };
}

async function main(argv: string[]): Promise<void> {
  const { source, env, asOf, ttlSeconds, dryRun } = parseArguments(argv);
  const started = performance.now();
  const config = getConfig();

  let rows: SenderFeatureRow[];
  let from: string;
  if (source === 'logs') {
    console.log(
      `Materializing ${SENDER_FEATURE_VIEW} (Feast project ${config.feastProject}) from the ${env} inference log, last ${SENDER_WINDOW_DAYS} days to ${asOf.toISOString()}`,
    );
    const events = await senderEventsFromLogs(env, asOf, SENDER_WINDOW_DAYS, console.log);
    rows = aggregateSenderStats(events, asOf, SENDER_WINDOW_DAYS);
    from = `${events.length} events`;
  } else {
    console.log(
      `Materializing ${SENDER_FEATURE_VIEW} (Feast project ${config.feastProject}) from the training period of the corpus (labels)`,
    );
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
  try {
    let written = 0;
    for (let i = 0; i < rows.length; i += 1000) {
      written += await store.writeSenderFeatures(rows.slice(i, i + 1000), { ttlSeconds });
      console.log(`  wrote ${Math.min(i + 1000, rows.length)}/${rows.length}`);
    }
    console.log(
      `Wrote ${written} rows to Redis (${rows.length - written} kept because the stored row was newer) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  } finally {
    await resetFeatureStore();
  }
}

runCli('features:materialize', main, USAGE);
