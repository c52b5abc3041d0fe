// Mergeable per-partition counts for PSI and KS: both statistics are exactly mergeable (docs/statistics.md).
//
// A drift run over thousands of log partitions (the Durable fan-out) cannot hold all current values in one place.
// With the baseline's frozen PSI edges and its fixed sorted reference sample, each partition reduces its values to
// integer count vectors; adding the vectors of all partitions gives exactly the counts one pass over all rows
// would give, and PSI and the KS statistic are functions of those counts alone.
//
// What the counts hold, per distribution (feature or predicted probability), with u_1 < … < u_K the DISTINCT values
// of the reference sample:
//   eq[j]  = number of current values equal to u_{j+1}                        (j = 0 … K−1)
//   gap[j] = number of current values strictly between u_j and u_{j+1}        (j = 0 … K, with u_0 = −∞, u_{K+1} = +∞)
//   bins   = counts per PSI bin; rows, finite, nan, posInf, negInf; and sum, sumSquares, min, max for the report.
// Only finite values enter PSI and KS; NaN and ±Infinity are counted and reported, never silently dropped.
//
// Why these counts give SciPy's D exactly (the proof the tests check):
//   Let F_r, F_c be the right-continuous ECDFs, R_j = #{ref ≤ u_j} (R_0 = 0), n = reference size, m = current size,
//   E_j = #{cur ≤ u_j} and L_j = #{cur < u_j} (both prefix sums of gap/eq). SciPy evaluates cdf1 − cdf2 =
//   R(v)/n − C(v)/m at every value v of the concatenation and takes the max and the min.
//   (1) On [u_j, u_{j+1}) the reference ECDF is constant, R_j/n, and the current ECDF is non-decreasing, so over the
//       values of that interval the difference is largest at u_j, where it is R_j/n − E_j/m, and smallest at the
//       largest current value c* < u_{j+1} of the interval, where it is R_j/n − L_{j+1}/m. If the interval holds no
//       current value beyond u_j, L_{j+1} = E_j and the second value equals the first.
//   (2) Below u_1 the reference ECDF is 0; the smallest difference is −L_1/m (at the largest current value below
//       u_1; 0 if there is none, and 0 is always among SciPy's differences, at the overall maximum where both ECDFs
//       are 1). Above u_K both terms are covered by (1) with j = K.
//   (3) Each difference is computed the way numpy computes it, (count/n) − (count/m) in doubles, and for fixed n, m,
//       R that expression is monotone in the current count even after rounding; so the max and min over these
//       2K + 1 candidates are bit for bit the max and min over SciPy's N + M values.
//   Hence D = max(max, clip(−min, 0, 1)) from the counts equals ks_2samp's D on (reference sample, all current finite
//   values); the counts of values below each point (L) are what make the between-points extremes exact.

import type { Baseline, ReferenceDistribution } from '../baseline';
import { CdfDiffExtremes, ksPValue, type KsResult } from './ks';
import { comparisonBins, PsiBins, psiFromCounts } from './psi';

/** Counts of one distribution in one partition (or merged). Plain JSON: safe to return from a Durable activity. */
export interface DistributionCounts {
  /** Every value seen, finite or not. */
  rows: number;
  /** Finite values: the ones PSI and KS use. */
  finite: number;
  nan: number;
  posInf: number;
  negInf: number;
  /** Per PSI bin of the comparison (`comparisonBins`: the baseline's bins, one more below a point-mass minimum). */
  bins: number[];
  /** Sum and sum of squares of the finite values, for the report's mean/std. Floating-point: merging in another
   * order can move the last bits (unlike every other field, which is an exact integer). */
  sum: number;
  sumSquares: number;
  min: number | null;
  max: number | null;
  /** Per distinct reference-sample value u: current values equal to u. */
  eq: number[];
  /** Current values strictly between consecutive distinct reference values (one more entry than eq). */
  gap: number[];
}

/** Counts of every distribution of a baseline: the features in baseline order, then the predicted probability. */
export interface PartialCounts {
  /** Which baseline the counts were made against (`baselineId`); merging counts of two baselines is refused. */
  baseline?: string;
  distributions: DistributionCounts[];
}

/** Identity of a baseline for partial counts: model name, version and creation time. */
export function baselineId(baseline: Baseline): string {
  return `${baseline.model.name}/${baseline.model.version}@${baseline.createdAt}`;
}

/** PSI and KS of one distribution from its (merged) counts; null where there is no finite current value. */
export interface DistributionResult {
  psi: number | null;
  ks: KsResult | null;
  counts: DistributionCounts;
}

interface PreparedReference {
  /** The PSI bins current values are counted on (`comparisonBins`). */
  bins: PsiBins;
  /** Distinct sample values, ascending (u_1 … u_K). */
  points: Float64Array;
  /** cumulative[j] = number of sample values ≤ points[j]. */
  cumulative: Float64Array;
  /** Search keys: the distinct values of points ∪ PSI edges, ascending, so that one search per value answers both
   * "which PSI bin" and "which eq/gap slot". For i = number of keys < v (0 … keys.length):
   *   binAt[i]        = number of edges < v = the value's PSI bin (every edge is a key, so they are among the i keys)
   *   pointsBelow[i]  = number of points < v = its gap index, or its eq index when keys[i] === v is a point
   *   isPoint[i]      = 1 when keys[i] is a sample value. */
  keys: Float64Array;
  binAt: Int32Array;
  pointsBelow: Int32Array;
  isPoint: Uint8Array;
  /** Search accelerator: bucketOf(x) = min(B − 1, ⌊(x − lo)·scale⌋) on [lo, hi] = [keys[0], keys[last]], and
   * bucketStart[b] = number of keys whose bucket is < b. bucketOf is monotone (each floating-point step is), so a
   * value in bucket b has exactly bucketStart[b] keys in lower buckets below it and every key of a higher bucket
   * above it: the binary search only has to cover [bucketStart[b], bucketStart[b + 1]], a handful of keys. */
  lo: number;
  hi: number;
  scale: number;
  buckets: number;
  bucketStart: Int32Array;
}

function bucketOf(x: number, lo: number, scale: number, buckets: number): number {
  return Math.min(buckets - 1, Math.floor((x - lo) * scale));
}

const prepared = new WeakMap<ReferenceDistribution, PreparedReference>();

function prepare(ref: ReferenceDistribution): PreparedReference {
  let p = prepared.get(ref);
  if (!p) {
    const points: number[] = [];
    const cumulative: number[] = [];
    ref.sample.forEach((v, i) => {
      if (points.length > 0 && v === points[points.length - 1]) cumulative[cumulative.length - 1] = i + 1;
      else {
        points.push(v);
        cumulative.push(i + 1);
      }
    });
    const pointSet = new Set(points);
    const bins = comparisonBins(ref);
    const keys = Float64Array.from(new Set([...points, ...bins.edges])).sort();
    const n = keys.length;
    const binAt = new Int32Array(n + 1);
    const pointsBelow = new Int32Array(n + 1);
    const isPoint = new Uint8Array(n);
    const edgeSet = new Set(bins.edges);
    for (let i = 0; i < n; i++) {
      isPoint[i] = pointSet.has(keys[i]) ? 1 : 0;
      binAt[i + 1] = binAt[i] + (edgeSet.has(keys[i]) ? 1 : 0);
      pointsBelow[i + 1] = pointsBelow[i] + isPoint[i];
    }
    const lo = n > 0 ? keys[0] : 0;
    const hi = n > 0 ? keys[n - 1] : 0;
    const buckets = Math.max(1, Math.min(1 << 16, 4 * n));
    let scale = n > 1 && hi > lo ? buckets / (hi - lo) : 0;
    if (!Number.isFinite(scale)) scale = 0;
    const bucketStart = new Int32Array(buckets + 1);
    for (const v of keys) bucketStart[bucketOf(v, lo, scale, buckets) + 1]++;
    for (let b = 0; b < buckets; b++) bucketStart[b + 1] += bucketStart[b];
    p = {
      bins,
      points: Float64Array.from(points),
      cumulative: Float64Array.from(cumulative),
      keys,
      binAt,
      pointsBelow,
      isPoint,
      lo,
      hi,
      scale,
      buckets,
      bucketStart,
    };
    prepared.set(ref, p);
  }
  return p;
}

/** The reference distributions in PartialCounts order: features, then the predicted probability. */
export function referenceDistributions(baseline: Baseline): ReferenceDistribution[] {
  return [...baseline.features, baseline.prediction];
}

function emptyCounts(ref: ReferenceDistribution): DistributionCounts {
  const { points, bins } = prepare(ref);
  const k = points.length;
  return {
    rows: 0,
    finite: 0,
    nan: 0,
    posInf: 0,
    negInf: 0,
    bins: new Array<number>(bins.edges.length + 1).fill(0),
    sum: 0,
    sumSquares: 0,
    min: null,
    max: null,
    eq: new Array<number>(k).fill(0),
    gap: new Array<number>(k + 1).fill(0),
  };
}

/** Zero counts shaped for a baseline. */
export function createPartialCounts(baseline: Baseline): PartialCounts {
  return { baseline: baselineId(baseline), distributions: referenceDistributions(baseline).map(emptyCounts) };
}

/**
 * Adds values of distribution `index` (a feature index, or `baseline.features.length` for the predicted
 * probability) to `partial`, in place. One binary search over the distinct reference values and one over the PSI
 * edges per finite value; no sorting, no copy.
 */
export function addValues(baseline: Baseline, partial: PartialCounts, index: number, values: ArrayLike<number>): void {
  const refs = referenceDistributions(baseline);
  if (index < 0 || index >= refs.length) throw new RangeError(`addValues: no distribution ${index}`);
  const { keys, binAt, pointsBelow, isPoint, lo: first, hi: last, scale, buckets, bucketStart } = prepare(refs[index]);
  const c = partial.distributions[index];
  const { eq, gap, bins } = c;
  const k = keys.length;
  let finite = 0;
  let sum = 0;
  let sumSquares = 0;
  let min = c.min ?? Infinity;
  let max = c.max ?? -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v - v !== 0) {
      // NaN or ±Infinity (v − v is NaN for both).
      if (v === Infinity) c.posInf++;
      else if (v === -Infinity) c.negInf++;
      else c.nan++;
      continue;
    }
    finite++;
    sum += v;
    sumSquares += v * v;
    if (v < min) min = v;
    if (v > max) max = v;
    // lo = number of keys < v
    let lo: number;
    if (k === 0 || v < first) lo = 0;
    else if (v > last) lo = k;
    else {
      const b = bucketOf(v, first, scale, buckets);
      lo = bucketStart[b];
      let hi = bucketStart[b + 1];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (keys[mid] < v) lo = mid + 1;
        else hi = mid;
      }
    }
    bins[binAt[lo]]++;
    if (lo < k && keys[lo] === v && isPoint[lo] === 1) eq[pointsBelow[lo]]++;
    else gap[pointsBelow[lo]]++;
  }
  c.rows += values.length;
  c.finite += finite;
  c.sum += sum;
  c.sumSquares += sumSquares;
  if (finite > 0) {
    c.min = min;
    c.max = max;
  }
}

function addInto(target: number[], source: number[], what: string): void {
  if (target.length !== source.length)
    throw new RangeError(`mergePartialCounts: ${what} has ${source.length} entries, expected ${target.length}`);
  for (let i = 0; i < target.length; i++) target[i] += source[i];
}

/** Sum of partial counts (any number, any order: every count is an exact integer sum). Inputs are not modified. */
export function mergePartialCounts(baseline: Baseline, parts: readonly PartialCounts[]): PartialCounts {
  const out = createPartialCounts(baseline);
  for (const part of parts) {
    if (part.baseline !== undefined && part.baseline !== out.baseline) {
      throw new RangeError(`mergePartialCounts: counts were made against baseline ${part.baseline}, not ${out.baseline}`);
    }
    if (part.distributions.length !== out.distributions.length) {
      throw new RangeError(`mergePartialCounts: ${part.distributions.length} distributions, baseline has ${out.distributions.length}`);
    }
    part.distributions.forEach((c, i) => {
      const o = out.distributions[i];
      o.rows += c.rows;
      o.finite += c.finite;
      o.nan += c.nan;
      o.posInf += c.posInf;
      o.negInf += c.negInf;
      o.sum += c.sum;
      o.sumSquares += c.sumSquares;
      addInto(o.bins, c.bins, 'bins');
      addInto(o.eq, c.eq, 'eq');
      addInto(o.gap, c.gap, 'gap');
      if (c.min !== null) o.min = o.min === null ? c.min : Math.min(o.min, c.min);
      if (c.max !== null) o.max = o.max === null ? c.max : Math.max(o.max, c.max);
    });
  }
  return out;
}

/** The raw KS statistic D of (reference sample, current values) from counts, by the argument at the top. */
export function ksStatisticFromCounts(ref: ReferenceDistribution, counts: DistributionCounts): number {
  const { cumulative } = prepare(ref);
  const n = ref.sample.length;
  const m = counts.finite;
  if (m === 0 || n === 0) throw new RangeError('ksStatisticFromCounts: no values on one side');
  const ext = new CdfDiffExtremes(n, m);
  let below = 0; // L: current values below the next reference point
  let refBelow = 0; // R of the previous point
  for (let j = 0; j < cumulative.length; j++) {
    below += counts.gap[j];
    ext.add(refBelow, below); // largest current value before point j (or the previous point again)
    const atOrBelow = below + counts.eq[j];
    ext.add(cumulative[j], atOrBelow); // at point j
    below = atOrBelow;
    refBelow = cumulative[j];
  }
  // Values above the last point: covered by the last point (the difference only shrinks towards 1 − 1 = 0).
  return ext.statistic();
}

/**
 * PSI and KS (SciPy `ks_2samp(reference sample, current)`, D and p) of distribution `index` from merged counts,
 * with `ref` the matching baseline distribution. PSI and KS are null when there is no finite current value; the
 * drift run applies its own minimum sample size before trusting either.
 */
export function finalizeDistribution(ref: ReferenceDistribution, merged: PartialCounts, index: number): DistributionResult {
  const counts = merged.distributions[index];
  if (counts.finite === 0) return { psi: null, ks: null, counts };
  const d = ksStatisticFromCounts(ref, counts);
  return { psi: psiFromCounts(prepare(ref).bins.proportions, counts.bins), ks: ksPValue(d, ref.sample.length, counts.finite), counts };
}

/** Mean and population standard deviation of the finite current values (null when there are none). */
export function currentSummary(counts: DistributionCounts): { mean: number; std: number; min: number; max: number } | null {
  if (counts.finite === 0 || counts.min === null || counts.max === null) return null;
  const mean = counts.sum / counts.finite;
  return { mean, std: Math.sqrt(Math.max(0, counts.sumSquares / counts.finite - mean * mean)), min: counts.min, max: counts.max };
}
