// The two-sample Kolmogorov-Smirnov test exactly as `scipy.stats.ks_2samp(data1, data2)` computes it with the
// defaults (alternative='two-sided', method='auto'); docs/statistics.md describes the port and the SciPy fixtures
// that check it.
//
//   statistic: for every value v of the concatenated samples, cdf_i(v) = (number of sample-i values ≤ v) / n_i
//              (right-side search, which is how ties are handled); D = max(max(cdf1 − cdf2), max(cdf2 − cdf1, 0)).
//   p-value:   exact (lattice paths, ksExact.ts) when max(n1, n2) ≤ 10000, which also snaps D to h/lcm(n1, n2);
//              otherwise, or when the exact computation fails, kstwo.sf(D, round_half_even(n1·n2/(n1 + n2)))
//              (kolmogorovTwoSided.ts).

import { exactTwoSidedPValue, roundHalfEven } from './ksExact';
import { kstwoSf } from './kolmogorovTwoSided';

/** SciPy's MAX_AUTO_N: `method='auto'` is exact when both samples have at most this many values. */
export const KS_MAX_EXACT_N = 10000;

export type KsMethod = 'exact' | 'asymp';

/** Result of a two-sample KS test (SciPy's `KstestResult` statistic and pvalue). */
export interface KsResult {
  /** D, as SciPy returns it (on the exact path snapped to a multiple of 1/lcm(n1, n2)). */
  statistic: number;
  pvalue: number;
  /** Which distribution gave the p-value. */
  method: KsMethod;
  n1: number;
  n2: number;
}

/** Running extremes of cdf1 − cdf2, evaluated the way numpy does: (c1 / n1) − (c2 / n2) in doubles. */
export class CdfDiffExtremes {
  max = -Infinity;
  min = Infinity;
  constructor(
    readonly n1: number,
    readonly n2: number,
  ) {}

  add(count1: number, count2: number): void {
    const diff = count1 / this.n1 - count2 / this.n2;
    if (diff > this.max) this.max = diff;
    if (diff < this.min) this.min = diff;
  }

  /** D = max(maxS, minS) with minS = clip(−min, 0, 1), as SciPy picks the larger one-sided deviation. */
  statistic(): number {
    const minS = Math.min(Math.max(-this.min, 0), 1);
    return minS > this.max ? minS : this.max;
  }
}

function checkSorted(name: string, a: ArrayLike<number>): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i];
    if (Number.isNaN(v)) throw new RangeError(`${name} contains NaN (count and drop non-finite values first)`);
    if (i > 0 && v < a[i - 1]) throw new RangeError(`${name} is not sorted ascending at index ${i}`);
  }
}

/**
 * The raw two-sample statistic D (before SciPy's exact-path snapping) from two ascending arrays, by one merge walk:
 * the differences only change at values of the concatenation, and all copies of a tied value share the same
 * (right-side) counts, so evaluating once per distinct value gives the same max and min as SciPy's evaluation at
 * every element.
 */
export function ksStatisticSorted(sorted1: ArrayLike<number>, sorted2: ArrayLike<number>): number {
  const n1 = sorted1.length;
  const n2 = sorted2.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('ks: both samples must be non-empty');
  const ext = new CdfDiffExtremes(n1, n2);
  let i = 0;
  let j = 0;
  while (i < n1 || j < n2) {
    const v = j >= n2 || (i < n1 && sorted1[i] <= sorted2[j]) ? sorted1[i] : sorted2[j];
    while (i < n1 && sorted1[i] <= v) i++;
    while (j < n2 && sorted2[j] <= v) j++;
    ext.add(i, j);
  }
  return ext.statistic();
}

/**
 * p-value (and SciPy's reported statistic) for a raw D between samples of sizes n1 (reference) and n2 (current),
 * following `ks_2samp`'s method='auto' logic.
 */
export function ksPValue(d: number, n1: number, n2: number): KsResult {
  if (!(Number.isInteger(n1) && Number.isInteger(n2) && n1 > 0 && n2 > 0)) {
    throw new RangeError(`ks: sample sizes must be positive integers, got ${n1} and ${n2}`);
  }
  let statistic = d;
  if (Math.max(n1, n2) <= KS_MAX_EXACT_N) {
    const exact = exactTwoSidedPValue(n1, n2, d);
    statistic = exact.statistic;
    if (exact.ok) return { statistic, pvalue: exact.pvalue, method: 'exact', n1, n2 };
    // SciPy warns and falls back to the asymptotic distribution, keeping the snapped D.
  }
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const en = (m * n) / (m + n);
  const pvalue = Math.min(Math.max(kstwoSf(statistic, roundHalfEven(en)), 0), 1);
  return { statistic, pvalue, method: 'asymp', n1, n2 };
}

/** `ks_2samp` on two ascending arrays (NaN rejected; ±Infinity are ordinary values, as in SciPy). */
export function ks2sampSorted(sorted1: ArrayLike<number>, sorted2: ArrayLike<number>): KsResult {
  checkSorted('sample 1', sorted1);
  checkSorted('sample 2', sorted2);
  return ksPValue(ksStatisticSorted(sorted1, sorted2), sorted1.length, sorted2.length);
}

/**
 * `scipy.stats.ks_2samp(data1, data2)` (two-sided, method='auto'): sorts copies of the inputs. SciPy propagates
 * NaN into the result; here NaN is an error, because the drift code counts and reports non-finite values instead.
 */
export function ks2samp(data1: ArrayLike<number>, data2: ArrayLike<number>): KsResult {
  return ks2sampSorted(Float64Array.from(data1).sort(), Float64Array.from(data2).sort());
}
