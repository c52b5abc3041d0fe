// Deterministic synthetic inference-log records for the compaction benchmark and the log tests: realistic value
// shapes (counts, logs of counts, ratios, flags) so that Parquet compression and sizes resemble real logs.
import { Environment } from '../../shared/platform/blobLayout';
import { mulberry32 } from '../../shared/platform/random';
import { FEATURE_NAMES } from '../../shared/serving/features/featureList';
import { InferenceLogRecord } from '../../shared/logs/logSchema';
import { blobBatchUploader, InferenceLogger, InferenceLoggerStats, newWriterId } from '../../shared/logs/inferenceLogger';

export interface SyntheticOptions {
  env: Environment;
  /** Time of the first record; records are `stepMs` apart. */
  start: Date;
  stepMs: number;
  seed: number;
  /** Prefix of request ids (unique per generator). */
  idPrefix: string;
}

export function* syntheticRecords(count: number, o: SyntheticOptions): Generator<InferenceLogRecord> {
  const rnd = mulberry32(o.seed);
  const t0 = o.start.getTime();
  for (let i = 0; i < count; i++) {
    const features = new Float32Array(FEATURE_NAMES.length);
    for (let f = 0; f < features.length; f++) {
      const kind = f % 4;
      features[f] =
        kind === 0 ? Math.log1p(Math.floor(rnd() * 200)) : kind === 1 ? rnd() : kind === 2 ? (rnd() < 0.3 ? 1 : 0) : Math.floor(rnd() * 6);
    }
    const probability = rnd();
    yield {
      time: new Date(t0 + i * o.stepMs).toISOString(),
      request_id: `${o.idPrefix}-${i}`,
      environment: o.env,
      model_name: 'spam-detector',
      model_version: o.env === 'staging' ? '2' : '1',
      features,
      probability,
      prediction: probability >= 0.5 ? 'spam' : 'ham',
      latency_ms: Math.round(rnd() * 5000) / 100,
      degraded: rnd() < 0.01,
      sender_key: rnd() < 0.1 ? null : `k${Math.floor(rnd() * 1000).toString(16)}`,
    };
  }
}

/**
 * Log `records` through the gateway's logger (raw blobs of `batchRecords` rows, in the app's storage) and wait until
 * they are written; throws when any record was not.
 */
export async function writeLogRecords(records: Iterable<InferenceLogRecord>, batchRecords = 250): Promise<InferenceLoggerStats> {
  const logger = new InferenceLogger({
    maxBufferedRecords: 1_000_000,
    maxBatchRecords: batchRecords,
    flushIntervalMs: 60_000,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    maxConcurrentUploads: 4,
    writerId: newWriterId(),
    upload: blobBatchUploader,
  });
  let count = 0;
  for (const r of records) {
    logger.log(r);
    count++;
  }
  const stats = await logger.flush();
  if (stats.written !== count) throw new Error(`logged ${stats.written} of ${count}`);
  return stats;
}
