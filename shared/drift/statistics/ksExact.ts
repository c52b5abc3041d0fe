// Exact two-sided p-values of the two-sample KS statistic, as `scipy.stats.ks_2samp(..., method='exact')`
// computes them (SciPy `_attempt_exact_2kssamp`, `_compute_prob_outside_square`, and the Pythran
// `_compute_outer_prob_inside_method`).
//
// Under H0 every interleaving of the two sorted samples is equally likely, i.e. a uniformly random monotone lattice
// path from (0, 0) to (n1, n2). D ≥ d exactly when the path touches one of the lines x/n1 − y/n2 = ±d, so the
// p-value is a proportion of lattice paths. With g = gcd(n1, n2) and lcm = n1·n2/g, D is a multiple of 1/lcm:
// D = h/lcm.

/** Result of the exact attempt: `ok: false` means SciPy would fall back to the asymptotic distribution. */
export interface ExactAttempt {
  ok: boolean;
  /** D snapped to the lattice, h / lcm: SciPy reports this value as the statistic on the exact path. */
  statistic: number;
  pvalue: number;
}

/** Greatest common divisor of two positive integers. */
export function gcd(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/** numpy's round(): to nearest, ties to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  // Math.round sends ties up; for an exact tie pick the even neighbour.
  return Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/**
 * P(D_{n,n} ≥ h/n) for equal sample sizes: the reflection-principle series
 * 2·[C(2n, n−h) − C(2n, n−2h) + C(2n, n−3h) − …] / C(2n, n), with each ratio of binomials expanded as a product of
 * h simple factors and the alternating sum nested Horner-style, 2·A0·(1 − A1·(1 − A2·(…))), to avoid the
 * cancellation of the plain alternating sum.
 */
export function probOutsideSquare(n: number, h: number): number {
  let P = 0.0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let p1 = 1.0;
    for (let j = 0; j < h; j++) p1 = ((n - k * h - j) * p1) / (n + k * h + j + 1);
    P = p1 * (1.0 - P);
  }
  return 2 * P;
}

/**
 * P(D_{m,n} ≥ h/lcm) for any m, n: the proportion of lattice paths that do not stay strictly inside the band
 * |x/m − y/n| < h/lcm. Hodges' (1958) "inside method", rewritten by Viehmann (arXiv:2102.08037) to carry
 * 1 − (proportion inside) directly, which is numerically stable: A(x, y) is the probability that a random path to
 * (x, y) has left the band, A = 1 outside the band, and inside
 *   A(x, y) = (x·A(x−1, y) + y·A(x, y−1)) / (x + y).
 * Only one column, and only its window inside the band, is kept: O(m · band width) time, O(n) memory.
 */
export function probOutsideBand(m0: number, n0: number, g: number, h: number): number {
  // Symmetric in m and n; the sweep runs over the larger one.
  const m = Math.max(m0, n0);
  const n = Math.min(m0, n0);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  const A = new Float64Array(lenA).fill(1);
  // Column x = 0: points (0, y) inside the band are reached only straight up, never leaving it.
  A.fill(0, minj, maxj);
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1.0;
    let val = minj === 0 ? 0.0 : 1.0;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (A[jj + minj - lastminj] * i + val * j) / (i + j);
      A[jj] = val;
    }
    curlen = maxj - minj;
    // Entries that fell off the bottom of the window are outside the band from now on.
    if (lastlen > curlen) A.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return A[maxj - minj - 1];
}

/**
 * SciPy's exact attempt for the two-sided test: snap D to h/lcm, then h = 0 → p = 1; n1 = n2 → outside-square
 * series; otherwise the band recursion. A non-finite result or one outside [0, 1] is reported as `ok: false`, on
 * which SciPy switches to the asymptotic distribution (with the snapped D).
 */
export function exactTwoSidedPValue(n1: number, n2: number, d: number): ExactAttempt {
  const g = gcd(n1, n2);
  const lcm = (n1 / g) * n2;
  const h = roundHalfEven(d * lcm);
  const statistic = (h * 1.0) / lcm;
  if (h === 0) return { ok: true, statistic, pvalue: 1.0 };
  const pvalue = n1 === n2 ? probOutsideSquare(n1, h) : probOutsideBand(n1, n2, g, h);
  if (!Number.isFinite(pvalue) || !(pvalue >= 0 && pvalue <= 1)) return { ok: false, statistic, pvalue };
  return { ok: true, statistic, pvalue };
}
