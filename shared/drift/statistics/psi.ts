// Population Stability Index on bins frozen in the baseline (docs/statistics.md).
//
// Why frozen bins: Evidently and Azure ML bin over the combined reference+current range, so the reference histogram
// depends on the current window and partitions cannot be merged. Here the edges are the reference deciles, computed
// once at training time; a partition only has to count its values per bin, and counts add up exactly.

/** Proportions below this are raised to it before the PSI formula, so that an empty bin (on either side) gives a
 * finite, bounded term instead of ln(0). 1e-4 is the value Evidently uses for empty bins; with it a bin that is
 * empty in the reference and holds 5 % of the current rows contributes 0.05 * ln(500) ≈ 0.31 (critical), while a
 * bin empty on both sides contributes 0. The floor is applied without renormalising the other proportions. */
export const PSI_FLOOR = 1e-4;

/** PSI below this is healthy. */
export const PSI_WARNING = 0.1;
/** PSI above this is critical; between the two thresholds (inclusive) it is a warning. */
export const PSI_CRITICAL = 0.2;

export type PsiStatus = 'healthy' | 'warning' | 'critical';

/**
 * PSI bin edges from a sorted, finite, non-empty reference: the nine reference deciles, with repeated values removed.
 *
 * Deciles use the inverted-CDF definition (numpy `method='inverted_cdf'`, Hyndman-Fan type 1): the d-th decile is the
 * smallest reference value x with F(x) ≥ d/10, i.e. `sorted[ceil(d·n/10) − 1]`. Every edge is therefore an observed
 * value; the interpolating definition would put an edge at 0.3 between the 0s and 1s of a binary feature.
 *
 * Bins are right-closed and the outer ones open-ended: with edges e[0] < … < e[k-1] there are k + 1 bins,
 * bin 0 = (-∞, e[0]], bin i = (e[i-1], e[i]], bin k = (e[k-1], +∞). With type-1 deciles each bin below the top
 * holds at least 10 % of the reference when the feature is continuous.
 *
 * Discrete and constant features: when deciles coincide (a binary feature that is 0 in 70 % of rows has deciles
 * 0,0,0,0,0,0,0,1,1) the duplicates are dropped, leaving edges [0, 1] and bins (-∞,0], (0,1], (1,+∞). The bin above
 * the largest edge may then be empty in the reference (it holds only values above anything common in training, which
 * is what PSI should flag). A constant feature gets one edge, its value: bins "≤ c" and "> c".
 */
export function psiEdgesFromSorted(sorted: ArrayLike<number>): number[] {
  const n = sorted.length;
  const edges: number[] = [];
  for (let d = 1; d <= 9 && n > 0; d++) {
    // ceil(d·n/10) in integer arithmetic, so that 0.3·10 = 3.0000000000000004 cannot move the rank.
    const rank = Math.floor((d * n + 9) / 10);
    const q = sorted[Math.max(rank, 1) - 1];
    if (edges.length === 0 || q > edges[edges.length - 1]) edges.push(q);
  }
  return edges;
}

/** The largest double below the finite number `x`. */
export function nextDown(x: number): number {
  if (x === 0) return -Number.MIN_VALUE;
  const bits = new DataView(new ArrayBuffer(8));
  bits.setFloat64(0, x);
  const n = bits.getBigUint64(0);
  bits.setBigUint64(0, x > 0 ? n - 1n : n + 1n);
  return bits.getFloat64(0);
}

/** PSI bins: right-closed edges and the reference proportion of each of the edges.length + 1 bins. */
export interface PsiBins {
  readonly edges: readonly number[];
  readonly proportions: readonly number[];
}

/**
 * The bins a drift comparison counts current values on. When the lowest edge is the reference minimum itself (a point
 * mass there: a constant, binary or mostly-zero feature), bin 0 is "≤ min" and values below every reference value
 * would land in it beside that mass: a constant feature moving down, or 0/1 becoming -1/1, left PSI at 0. Such
 * baselines get one more bin in front, for values below the minimum; no reference value lies there, so its reference
 * proportion is 0 (floored like any empty bin), and its edge is the largest double below the minimum, which makes
 * (-∞, edge] exactly "< min" under the right-closed rule. A continuous feature's lowest edge is its first decile,
 * above the minimum: a move below the minimum already shows as a fuller bin 0, and an extra bin would only add the
 * sampling noise of a few values below a small reference's minimum. Derived, not stored: baselines keep their format.
 */
export function comparisonBins(ref: { readonly min: number; readonly psi: PsiBins }): PsiBins {
  if (ref.psi.edges[0] !== ref.min) return ref.psi;
  return { edges: [nextDown(ref.min), ...ref.psi.edges], proportions: [0, ...ref.psi.proportions] };
}

/** Bin index of a value under the right-closed rule above: the number of edges strictly below `v` (binary search).
 * The drift statistics pass finite values only: NaN and ±Infinity are counted and reported on their own. */
export function psiBinIndex(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (edges[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Counts per bin (length edges.length + 1) of the finite values; NaN and ±Infinity are skipped (count them
 * yourself, or use `shared/drift/statistics/partialCounts.ts`, which reports them). */
export function psiBinCounts(edges: ArrayLike<number>, values: ArrayLike<number>): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isFinite(v)) counts[psiBinIndex(edges, v)]++;
  }
  return counts;
}

/** Counts → proportions; all zeros when the total is zero. */
export function proportions(counts: ArrayLike<number>): number[] {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i];
  return Array.from(counts, (c) => (total > 0 ? c / total : 0));
}

/**
 * PSI = Σ (cur − ref) · ln(cur / ref) over the bins, each proportion first raised to {@link PSI_FLOOR}.
 * Both arrays are proportions over the same bins. The result is ≥ 0 and symmetric in its arguments.
 */
export function psi(referenceProportions: ArrayLike<number>, currentProportions: ArrayLike<number>): number {
  if (referenceProportions.length !== currentProportions.length) {
    throw new RangeError(`psi: ${referenceProportions.length} reference bins vs ${currentProportions.length} current bins`);
  }
  let sum = 0;
  for (let i = 0; i < referenceProportions.length; i++) {
    const r = Math.max(referenceProportions[i], PSI_FLOOR);
    const c = Math.max(currentProportions[i], PSI_FLOOR);
    sum += (c - r) * Math.log(c / r);
  }
  return sum;
}

/** PSI from per-bin counts of the current window (the mergeable form). NaN when the window has no values. */
export function psiFromCounts(referenceProportions: ArrayLike<number>, currentCounts: ArrayLike<number>): number {
  let total = 0;
  for (let i = 0; i < currentCounts.length; i++) total += currentCounts[i];
  if (total === 0) return Number.NaN;
  return psi(referenceProportions, proportions(currentCounts));
}

/** `< 0.1` healthy, `0.1 … 0.2` warning, `> 0.2` critical (the usual PSI rule of thumb). NaN (an empty window) has no
 * status here: the drift run reports `insufficient_data` before it gets this far, so NaN throws a RangeError. */
export function psiStatus(value: number): PsiStatus {
  if (Number.isNaN(value)) throw new RangeError('psiStatus: PSI is NaN (no current values)');
  if (value < PSI_WARNING) return 'healthy';
  if (value <= PSI_CRITICAL) return 'warning';
  return 'critical';
}
