// Inference logs and baselines for the drift tests, written with the real modules: the gateway's InferenceLogger
// (raw NDJSON blobs), the compactor (Parquet parts + manifest), and the baseline builder.
import { CONTAINERS, baselinePath, Environment, hourPartition } from '../../shared/platform/blobLayout';
import { getContainerClient } from '../../shared/platform/blobStorage';
import { buildBaseline, serializeBaseline } from '../../shared/drift/baseline';
import { mulberry32 } from '../../shared/platform/random';
import { FEATURE_NAMES } from '../../shared/serving/features/featureList';
import { compactionOptionsFromConfig, compactPartition } from '../../shared/logs/compaction';
import { InferenceLogRecord } from '../../shared/logs/logSchema';
import { syntheticRecords } from '../../tools/bench/syntheticRecords';

export { logRecords } from './logStorage';

export const MODEL = 'spam-detector';

export interface RecordSpec {
  env: Environment;
  /** Hour start; records are spread over the hour. */
  hour: Date;
  count: number;
  seed: number;
  version?: string;
  /** Multiply features with an index divisible by 4 or 5 (counts, logs of counts) by this, and raise the
   * probability: a drift that a handful of features and the prediction really show. */
  shift?: number;
}

/** Synthetic records (realistic feature shapes, float32) of one hour. */
export function records(spec: RecordSpec): InferenceLogRecord[] {
  const out: InferenceLogRecord[] = [];
  const rnd = mulberry32(spec.seed ^ 0x9e3779b9);
  for (const r of syntheticRecords(spec.count, {
    env: spec.env,
    start: spec.hour,
    stepMs: Math.floor(3_500_000 / spec.count),
    seed: spec.seed,
    idPrefix: `${spec.env}-${spec.seed}`,
  })) {
    const features = Float32Array.from(r.features);
    if (spec.shift) {
      for (let f = 0; f < features.length; f++) if (f % 4 === 0 || f % 5 === 0) features[f] = Math.fround(features[f] * spec.shift + 0.5);
    }
    const probability = spec.shift ? Math.min(1, r.probability * 0.5 + 0.5 * rnd() + 0.2) : r.probability;
    out.push({ ...r, features, probability, model_version: spec.version ?? '1' });
  }
  return out;
}

/** Compact an hour to Parquet with the real compactor. */
export async function compactHour(env: Environment, hour: Date): Promise<number> {
  const { date, hour: hh } = hourPartition(hour);
  const result = await compactPartition(
    { env, date, hour: hh },
    compactionOptionsFromConfig({ now: () => new Date(hour.getTime() + 2 * 3600_000) }),
  );
  return result.rows;
}

/** A baseline of `count` synthetic reference rows (what training would write), as JSON bytes. */
export function baselineBytes(options: { version?: string; seed?: number; count?: number; createdAt?: string } = {}): Buffer {
  const recs = records({
    env: 'production',
    hour: new Date('2026-01-01T00:00:00Z'),
    count: options.count ?? 3000,
    seed: options.seed ?? 1234,
    version: options.version,
  });
  const baseline = buildBaseline({
    modelName: MODEL,
    modelVersion: options.version ?? '1',
    featureNames: FEATURE_NAMES,
    rows: recs.map((r) => r.features),
    probabilities: recs.map((r) => r.probability),
    sampleSize: 2000,
    seed: 7,
    createdAt: options.createdAt ?? '2026-01-02T00:00:00Z',
  });
  return Buffer.from(serializeBaseline(baseline));
}

/** Upload bytes to `baselines/{model}/{version}/baseline.json` and return the blob name (trigger `{name}`). */
export async function uploadBaseline(bytes: Buffer | string, version = '1'): Promise<string> {
  const name = baselinePath(MODEL, version);
  await getContainerClient(CONTAINERS.baselines).getBlockBlobClient(name).upload(bytes, Buffer.byteLength(bytes));
  return name;
}

/** Names of the blobs under a prefix of drift-reports/. */
export async function reportBlobs(prefix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const b of getContainerClient(CONTAINERS.driftReports).listBlobsFlat({ prefix })) names.push(b.name);
  return names.sort();
}

export async function readReportJson<T = any>(name: string): Promise<T> {
  return JSON.parse((await getContainerClient(CONTAINERS.driftReports).getBlobClient(name).downloadToBuffer()).toString('utf8')) as T;
}
