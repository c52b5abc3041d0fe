// Multiple-testing correction across the features of one drift run: significance with a correction across the 50
// features, so that a large window does not turn every tiny shift into an alert (docs/statistics.md).

/**
 * Benjamini-Hochberg adjusted p-values (false discovery rate), as `scipy.stats.false_discovery_control(ps,
 * method='bh')` and statsmodels `multipletests(ps, method='fdr_bh')` compute them: sort ascending, scale the i-th
 * smallest by m/i, take the running minimum from the largest down (so the result is monotone in p), cap at 1, and
 * return in input order. A feature is significant at FDR level q when its adjusted p-value is ≤ q.
 *
 * Throws a RangeError on a value outside [0, 1] or NaN (SciPy raises too); a single p-value comes back unchanged.
 */
export function benjaminiHochberg(pvalues: readonly number[]): number[] {
  pvalues.forEach((p, i) => {
    if (!(p >= 0 && p <= 1)) throw new RangeError(`benjaminiHochberg: p-value ${i} is ${p}, not in [0, 1]`);
  });
  const m = pvalues.length;
  if (m <= 1) return [...pvalues];
  const order = pvalues.map((_, i) => i).sort((a, b) => pvalues[a] - pvalues[b] || a - b);
  const adjusted = new Array<number>(m);
  let running = Infinity;
  for (let k = m - 1; k >= 0; k--) {
    // p · (m / i), in that order, as SciPy multiplies by the array m / i.
    const scaled = pvalues[order[k]] * (m / (k + 1));
    running = Math.min(running, scaled);
    adjusted[order[k]] = Math.min(Math.max(running, 0), 1);
  }
  return adjusted;
}
