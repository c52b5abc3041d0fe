// The baseline: what the drift detector compares the live traffic against
// (`baselines/spam-detector/{version}/baseline.json`; docs/architecture.md has the blob layout and this contract).
//
// Written once by the training CLI from the training rows and the model's predicted spam probabilities; writing it
// to Blob is the event that activates it, and the baseline blob trigger validates it with `validateBaseline` first.
// Everything the drift run needs is in here, so that a run never re-reads training data: summary statistics, the
// frozen PSI bins with the reference proportions, and a sorted reference sample for the exact KS test.

import { mean, standardDeviation } from 'simple-statistics';
import { z } from 'zod';
import { BadRequestError } from '../platform/errors';
import { mulberry32 } from '../platform/random';
import { psiBinCounts, psiEdgesFromSorted, proportions } from './statistics/psi';

/** Bumped on any incompatible change of the JSON shape; the validator accepts only this version. */
export const BASELINE_SCHEMA_VERSION = 1;

/** Default bound on the reference sample kept for KS. 10,000 keeps KS on the exact path when the current window is
 * small too (max(n, m) ≤ 10000) and the JSON at about 200 kB per feature. */
export const DEFAULT_BASELINE_SAMPLE_SIZE = 10_000;

/** Name of the distribution entry for the model's predicted spam probability. */
export const PREDICTION_DISTRIBUTION_NAME = 'probability';

const count = z.int().nonnegative();

const distributionShape = z.object({
  /** Feature name, or `probability` for the prediction distribution. */
  name: z.string().min(1),
  /** All reference values seen, finite or not. */
  rows: count,
  /** Finite values: the ones every statistic below is computed from. */
  count: z.int().positive(),
  /** Values left out of the statistics, reported rather than dropped silently. */
  nonFinite: z.object({ nan: count, posInf: count, negInf: count }),
  mean: z.number(),
  /** Population standard deviation (ddof = 0, as numpy's default). */
  std: z.number().nonnegative(),
  min: z.number(),
  max: z.number(),
  /** Frozen PSI bins: right-closed, outer bins open-ended; `counts`/`proportions` have edges.length + 1 entries. */
  psi: z.object({
    edges: z.array(z.number()),
    counts: z.array(count),
    proportions: z.array(z.number().min(0).max(1)),
  }),
  /** Sorted (ascending) finite reference values for the exact two-sample KS test. */
  sample: z.array(z.number()),
});

/** One reference distribution (a feature, or the predicted probability). */
export type ReferenceDistribution = z.infer<typeof distributionShape>;

const distributionSchema = distributionShape.superRefine((d, ctx) => {
  const issue = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (d.count + d.nonFinite.nan + d.nonFinite.posInf + d.nonFinite.negInf !== d.rows) {
    issue(['rows'], `rows (${d.rows}) must equal count + nan + posInf + negInf`);
  }
  if (d.min > d.max) issue(['min'], `min (${d.min}) is greater than max (${d.max})`);
  // Summation rounding can push a mean of identical values a few ulps outside [min, max]; allow that, nothing more.
  const slack = 1e-9 * Math.max(1, Math.abs(d.min), Math.abs(d.max));
  if (d.mean < d.min - slack || d.mean > d.max + slack) issue(['mean'], `mean (${d.mean}) is outside [min, max]`);
  const { edges, counts, proportions: props } = d.psi;
  if (edges.length === 0) issue(['psi', 'edges'], 'needs at least one edge');
  for (let i = 1; i < edges.length; i++) {
    if (!(edges[i] > edges[i - 1])) {
      issue(['psi', 'edges', i], 'edges must be strictly increasing');
      break;
    }
  }
  if (edges.length > 0 && (edges[0] < d.min || edges[edges.length - 1] > d.max)) {
    issue(['psi', 'edges'], 'edges must lie within [min, max] (they are reference deciles)');
  }
  if (counts.length !== edges.length + 1)
    issue(['psi', 'counts'], `needs edges.length + 1 = ${edges.length + 1} entries, has ${counts.length}`);
  if (props.length !== edges.length + 1)
    issue(['psi', 'proportions'], `needs edges.length + 1 = ${edges.length + 1} entries, has ${props.length}`);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== d.count) issue(['psi', 'counts'], `sum of counts (${total}) must equal count (${d.count})`);
  if (counts.length === props.length && total > 0) {
    const bad = props.findIndex((p, i) => Math.abs(p - counts[i] / total) > 1e-12);
    if (bad >= 0) issue(['psi', 'proportions', bad], 'proportions must equal counts / count');
  }
  if (d.sample.length === 0) issue(['sample'], 'the reference sample is empty');
  if (d.sample.length > d.count) issue(['sample'], `has ${d.sample.length} values but count is ${d.count}`);
  for (let i = 1; i < d.sample.length; i++) {
    if (d.sample[i] < d.sample[i - 1]) {
      issue(['sample', i], 'the sample must be sorted ascending');
      break;
    }
  }
  if (d.sample.length > 0 && (d.sample[0] < d.min || d.sample[d.sample.length - 1] > d.max)) {
    issue(['sample'], 'sample values must lie within [min, max]');
  }
});

const baselineSchema = z
  .object({
    schemaVersion: z.literal(BASELINE_SCHEMA_VERSION),
    model: z.object({ name: z.string().min(1), version: z.string().min(1) }),
    createdAt: z.iso.datetime(),
    /** How the reference sample was drawn, so that it can be reproduced. */
    sampling: z.object({
      method: z.literal('uniform-rows-without-replacement'),
      seed: z.int().nonnegative(),
      sampleSize: z.int().positive(),
      referenceRows: count,
    }),
    features: z.array(distributionSchema).min(1),
    prediction: distributionSchema,
  })
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.features.forEach((f, i) => {
      if (seen.has(f.name)) ctx.addIssue({ code: 'custom', path: ['features', i, 'name'], message: `duplicate feature name ${f.name}` });
      seen.add(f.name);
    });
    const all = [...b.features, b.prediction];
    all.forEach((d, i) => {
      const path = i < b.features.length ? ['features', i] : ['prediction'];
      if (d.rows !== b.sampling.referenceRows) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'rows'],
          message: `rows (${d.rows}) must equal sampling.referenceRows (${b.sampling.referenceRows})`,
        });
      }
      if (d.sample.length > b.sampling.sampleSize) {
        ctx.addIssue({
          code: 'custom',
          path: [...path, 'sample'],
          message: `has ${d.sample.length} values, more than sampling.sampleSize (${b.sampling.sampleSize})`,
        });
      }
    });
  });

/** A validated baseline (`baseline.json`). */
export type Baseline = z.infer<typeof baselineSchema>;

/** A baseline that failed validation; `issues` lists every problem as `path: message`. */
export class InvalidBaselineError extends BadRequestError {
  constructor(readonly issues: string[]) {
    super(`Invalid baseline: ${issues.join('; ')}`, 'invalid_baseline');
  }
}

/**
 * Parses and checks a baseline (the parsed JSON, or the JSON text). Returns the typed baseline, or throws
 * {@link InvalidBaselineError} listing every problem found (shape, types, schema version, sortedness of the sample,
 * monotone edges, counts that add up, …). With `expectedFeatureNames`, the feature list must match it in order.
 */
export function validateBaseline(json: unknown, expectedFeatureNames?: readonly string[]): Baseline {
  let value = json;
  if (typeof json === 'string') {
    try {
      value = JSON.parse(json);
    } catch (err) {
      throw new InvalidBaselineError([`not JSON: ${(err as Error).message}`]);
    }
  }
  const parsed = baselineSchema.safeParse(value);
  if (!parsed.success) {
    throw new InvalidBaselineError(parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`));
  }
  if (expectedFeatureNames) {
    const names = parsed.data.features.map((f) => f.name);
    if (names.length !== expectedFeatureNames.length || names.some((n, i) => n !== expectedFeatureNames[i])) {
      throw new InvalidBaselineError([
        `features: names [${names.join(', ')}] differ from the expected [${expectedFeatureNames.join(', ')}]`,
      ]);
    }
  }
  return parsed.data;
}

/** Input of {@link buildBaseline}. */
export interface BuildBaselineInput {
  modelName: string;
  modelVersion: string;
  /** Feature names in model order (pass `FEATURE_NAMES`); every row has this many values. */
  featureNames: readonly string[];
  /** Reference rows (typically the training rows), one value per feature. */
  rows: ReadonlyArray<ArrayLike<number>>;
  /** The model's predicted spam probability for each row (same length as `rows`). */
  probabilities: ArrayLike<number>;
  /** Bound on the KS reference sample (default {@link DEFAULT_BASELINE_SAMPLE_SIZE}). */
  sampleSize?: number;
  /** Seed of the row sampler (unsigned 32-bit; default 0). */
  seed?: number;
  /** Creation time to record; a parameter, not `new Date()`, so that the output is reproducible. */
  createdAt: Date | string;
}

/**
 * Builds a baseline from reference rows. Deterministic: the same input gives a byte-identical
 * {@link serializeBaseline} output.
 *
 * Per distribution: statistics over the finite values (NaN/±Infinity are counted in `nonFinite`), PSI edges from the
 * reference deciles (see `psiEdgesFromSorted`), bin counts and proportions over all finite reference values, and the
 * KS sample: when there are more rows than `sampleSize`, `sampleSize` row indices are drawn uniformly without
 * replacement (partial Fisher-Yates driven by a seeded mulberry32), the same rows for every feature, and each
 * feature keeps its finite values from those rows, sorted. A random sample rather than evenly spaced quantiles, since
 * the KS p-value assumes a random sample. Throws a RangeError on malformed input (ragged rows, a feature with no
 * finite value).
 */
export function buildBaseline(input: BuildBaselineInput): Baseline {
  const { featureNames, rows, probabilities } = input;
  const sampleSize = input.sampleSize ?? DEFAULT_BASELINE_SAMPLE_SIZE;
  const seed = input.seed ?? 0;
  if (!Number.isInteger(sampleSize) || sampleSize < 1) throw new RangeError(`sampleSize must be a positive integer, got ${sampleSize}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
    throw new RangeError(`seed must be an unsigned 32-bit integer, got ${seed}`);
  if (featureNames.length === 0) throw new RangeError('featureNames is empty');
  if (rows.length === 0) throw new RangeError('no reference rows');
  if (probabilities.length !== rows.length) {
    throw new RangeError(`probabilities has ${probabilities.length} values for ${rows.length} rows`);
  }
  rows.forEach((row, i) => {
    if (row.length !== featureNames.length) throw new RangeError(`row ${i} has ${row.length} values, expected ${featureNames.length}`);
  });

  const sampledRows = sampleRowIndices(rows.length, sampleSize, seed);
  const column = new Float64Array(rows.length);
  const features = featureNames.map((name, j) => {
    for (let i = 0; i < rows.length; i++) column[i] = rows[i][j];
    return describeDistribution(name, column, sampledRows);
  });
  const prediction = describeDistribution(PREDICTION_DISTRIBUTION_NAME, Float64Array.from(probabilities), sampledRows);

  const baseline: Baseline = {
    schemaVersion: BASELINE_SCHEMA_VERSION,
    model: { name: input.modelName, version: input.modelVersion },
    createdAt: new Date(input.createdAt).toISOString(),
    sampling: { method: 'uniform-rows-without-replacement', seed, sampleSize, referenceRows: rows.length },
    features,
    prediction,
  };
  // Building must produce something the trigger will accept; fail here, at training time, rather than at activation.
  return validateBaseline(baseline, featureNames);
}

/** The canonical JSON text of a baseline (compact; key order fixed by construction, so reproducible). */
export function serializeBaseline(baseline: Baseline): string {
  return JSON.stringify(baseline);
}

function describeDistribution(name: string, values: Float64Array, sampledRows: Uint32Array): ReferenceDistribution {
  const nonFinite = { nan: 0, posInf: 0, negInf: 0 };
  const finite: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) finite.push(v);
    else if (v === Infinity) nonFinite.posInf++;
    else if (v === -Infinity) nonFinite.negInf++;
    else nonFinite.nan++;
  }
  if (finite.length === 0) throw new RangeError(`${name}: no finite reference value`);
  const sorted = Float64Array.from(finite).sort();
  const sortedArray = Array.from(sorted);
  const edges = psiEdgesFromSorted(sorted);
  const counts = psiBinCounts(edges, sorted);
  const sample: number[] = [];
  for (let k = 0; k < sampledRows.length; k++) {
    const v = values[sampledRows[k]];
    if (Number.isFinite(v)) sample.push(v);
  }
  sample.sort((a, b) => a - b);
  return {
    name,
    rows: values.length,
    count: finite.length,
    nonFinite,
    // On the sorted values, so that the row order does not move the last bits of the sums.
    mean: mean(sortedArray),
    std: standardDeviation(sortedArray),
    min: sorted[0],
    max: sorted[sorted.length - 1],
    psi: { edges, counts, proportions: proportions(counts) },
    sample: sample.map((v) => (Object.is(v, -0) ? 0 : v)),
  };
}

/** `k` distinct indices of `[0, n)` (all of them when k ≥ n), ascending. */
export function sampleRowIndices(n: number, k: number, seed: number): Uint32Array {
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i);
  const random = mulberry32(seed);
  const idx = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(random() * (n - i));
    const t = idx[i];
    idx[i] = idx[j];
    idx[j] = t;
  }
  return idx.slice(0, k).sort();
}
