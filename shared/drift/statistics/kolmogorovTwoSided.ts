// The two-sided one-sample Kolmogorov-Smirnov distribution for finite n, P(D_n ≥ x): SciPy's `kstwo.sf(x, n)`,
// i.e. `scipy.stats._ksstats._kolmogn(n, x, cdf=False)`. ks_2samp's asymptotic path evaluates it at
// n = round_half_even(n1·n2 / (n1 + n2)), so every branch below is reachable from a drift run.
//
// Simard and L'Ecuyer (2011), "Computing the Two-Sided Kolmogorov-Smirnov Distribution", J. Stat. Softw. 39(11),
// chose which method is accurate where; SciPy follows their plan and so does this port:
//   t = n·x ≤ 0.5            → P = 1 (below the support)
//   t ≤ 1                    → Ruben-Gambino closed form for the CDF: n!/n^n · (2t − 1)^n
//   t ≥ n − 1                → Ruben-Gambino: 2 (1 − x)^n
//   x ≥ 0.5                  → 2 · smirnov(n, x) (the one-sided tails cannot both exceed 0.5)
//   n ≤ 140:  n x² ≤ 0.754693 → Durbin's matrix method (Marsaglia-Tsang-Wang), 1 − CDF
//             n x² ≤ 4        → Pomeranz's recursion, 1 − CDF
//             otherwise       → 2 · smirnov(n, x)
//   n > 140:  n x² ≥ 370      → 0
//             n x² ≥ 2.2      → 2 · smirnov(n, x)
//             n ≤ 100000 and n x^1.5 ≤ 1.4 → 1 − Durbin
//             otherwise       → 1 − Pelz-Good asymptotic series

import { smirnov } from './kolmogorovOneSided';
import { ldexpNumber } from './kolmogorovDoubleDouble';

/** Names of the branches above, for reports and for checking test coverage against SciPy fixtures. */
export type KolmognBranch =
  | 'x>=1'
  | 'x<=0'
  | 't<=0.5'
  | 'ruben-gambino-small-t'
  | 'ruben-gambino-large-t'
  | 'smirnov-x>=0.5'
  | 'durbin-n<=140'
  | 'pomeranz-n<=140'
  | 'smirnov-n<=140'
  | 'zero-nx2>=370'
  | 'smirnov-n>140'
  | 'durbin-n>140'
  | 'pelz-good';

const E128 = 128;
const EP128 = 2 ** 128;
const EM128 = 2 ** -128;
const SQRT2PI = Math.sqrt(2 * Math.PI);
const LOG_2PI = Math.log(2 * Math.PI);
const MIN_LOG = -708;
const SQRT3 = Math.sqrt(3);
const PI_SQUARED = Math.PI ** 2;
const PI_FOUR = Math.PI ** 4;
const PI_SIX = Math.PI ** 6;

// B_{2j} / (2j) / (2j − 1) for j = 8 … 1 (Stirling series), highest power first. Written as the exact fractions:
// each quotient is the same double as the 20-digit decimals SciPy writes.
const STIRLING_COEFFS = [-3617 / 122400, 1 / 156, -691 / 360360, 1 / 1188, -1 / 1680, 1 / 1260, -1 / 360, 1 / 12];

const clip01 = (p: number): number => Math.min(Math.max(p, 0.0), 1.0);

/** log(n! / n^n) by Stirling, with n·log(n) taken out up front to avoid cancellation. */
function logNFactorialDivNPowN(n: number): number {
  const rn = 1.0 / n;
  let poly = 0;
  for (const c of STIRLING_COEFFS) poly = poly * (rn / n) + c;
  return Math.log(n) / 2 - n + LOG_2PI / 2 + rn * poly;
}

function matmul(a: Float64Array, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let k = 0; k < m; k++) {
      const aik = a[i * m + k];
      if (aik === 0) continue;
      for (let j = 0; j < m; j++) out[i * m + j] += aik * b[k * m + j];
    }
  }
  return out;
}

/**
 * P(D_n ≤ d) by Durbin's matrix method in the Marsaglia-Tsang-Wang form: write d = (k − h)/n, build the
 * (2k−1)×(2k−1) matrix H, and take the (k, k) entry of n!/n^n · H^n by repeated squaring, rescaling by 2^128 to
 * stay in range. O(k³ log n): SciPy uses it where k is small.
 */
export function kolmognDurbin(n: number, d: number): number {
  if (d >= 1.0) return 1.0;
  const nd = n * d;
  if (nd <= 0.5) return 0.0;
  const k = Math.ceil(nd);
  const h = k - nd;
  const m = 2 * k - 1;

  // v: first column (and, reversed, last row) of H; w[j] = 1/j!.
  const v = new Float64Array(m);
  const w = new Float64Array(m);
  let fac = 1.0;
  for (let j = 1; j <= m; j++) {
    v[j - 1] = 1.0 - h ** j;
    w[j - 1] = fac;
    fac /= j; // may underflow for large m; harmless
    v[j - 1] *= fac;
  }
  const tt = Math.max(2 * h - 1.0, 0) ** m - 2 * h ** m;
  v[m - 1] = (1.0 + tt) * fac;

  let H: Float64Array<ArrayBufferLike> = new Float64Array(m * m);
  for (let i = 1; i < m; i++) {
    for (let r = i - 1; r < m; r++) H[r * m + i] = w[r - (i - 1)];
  }
  for (let r = 0; r < m; r++) H[r * m] = v[r];
  for (let c = 0; c < m; c++) H[(m - 1) * m + c] = v[m - 1 - c];

  let Hpwr: Float64Array<ArrayBufferLike> = new Float64Array(m * m);
  for (let i = 0; i < m; i++) Hpwr[i * m + i] = 1;
  let nn = n;
  let expnt = 0; // binary exponent of Hpwr
  let hExpnt = 0; // binary exponent of H
  while (nn > 0) {
    if (nn % 2) {
      Hpwr = matmul(Hpwr, H, m);
      expnt += hExpnt;
    }
    H = matmul(H, H, m);
    hExpnt *= 2;
    if (Math.abs(H[(k - 1) * m + (k - 1)]) > EP128) {
      for (let i = 0; i < H.length; i++) H[i] /= EP128;
      hExpnt += E128;
    }
    nn = Math.floor(nn / 2);
  }
  let p = Hpwr[(k - 1) * m + (k - 1)];
  // Multiply by n!/n^n one factor at a time, rescaling to avoid underflow.
  for (let i = 1; i <= n; i++) {
    p = (i * p) / n;
    if (Math.abs(p) < EM128) {
      p *= EP128;
      expnt -= E128;
    }
  }
  if (expnt !== 0) p = ldexpNumber(p, expnt);
  return clip01(p);
}

/** Start and end (inclusive) of the non-zero entries of row i in Pomeranz's recursion. */
function pomeranzJ1J2(i: number, n: number, ll: number, ceilf: number, roundf: number): [number, number] {
  let j1: number;
  let j2: number;
  if (i === 0) {
    j1 = -ll - ceilf - 1;
    j2 = ll + ceilf - 1;
  } else {
    const ip1div2 = Math.floor((i + 1) / 2);
    const ip1mod2 = (i + 1) % 2;
    if (ip1mod2 === 0) {
      // i is odd
      if (ip1div2 === n + 1) {
        j1 = n - ll - ceilf - 1;
        j2 = n + ll + ceilf - 1;
      } else {
        j1 = ip1div2 - 1 - ll - roundf - 1;
        j2 = ip1div2 + ll - 1 + ceilf - 1;
      }
    } else {
      j1 = ip1div2 - 1 - ll - 1;
      j2 = ip1div2 + ll + roundf - 1;
    }
  }
  return [Math.max(j1 + 2, 0), Math.min(j2, n)];
}

/**
 * P(D_n ≤ x) by Pomeranz's recursion (CACM Algorithm 487, 1974): 2n + 1 rows, each the convolution of the previous
 * row with one of three truncated Poisson weight vectors; only a short window of each row is non-zero, and the
 * answer is n! times the last entry of the last row (rescaled by 2^±128 along the way).
 */
export function kolmognPomeranz(n: number, x: number): number {
  const t = n * x;
  const ll = Math.floor(t);
  const f = 1.0 * (t - ll);
  const g = Math.min(f, 1.0 - f);
  const ceilf = f > 0 ? 1 : 0;
  const roundf = f > 0.5 ? 1 : 0;
  const npwrs = 2 * (ll + 1);
  // (g/n)^m/m!, (2g/n)^m/m!, ((1−2g)/n)^m/m!: Poisson probabilities without their normalising factor.
  const gpower = new Float64Array(npwrs);
  const twogpower = new Float64Array(npwrs);
  const onem2gpower = new Float64Array(npwrs);
  gpower[0] = twogpower[0] = onem2gpower[0] = 1.0;
  const gOverN = g / n;
  const twoGOverN = (2 * g) / n;
  const oneMinusTwoGOverN = (1 - 2 * g) / n;
  for (let m = 1; m < npwrs; m++) {
    gpower[m] = (gpower[m - 1] * gOverN) / m;
    twogpower[m] = (twogpower[m - 1] * twoGOverN) / m;
    onem2gpower[m] = (onem2gpower[m - 1] * oneMinusTwoGOverN) / m;
  }

  let V0 = new Float64Array(npwrs);
  let V1 = new Float64Array(npwrs);
  V1[0] = 1;
  let V0s = 0;
  let V1s = 0;
  let expnt = 0;
  // Only the first row's j1 is needed before the loop (as k1); j2 is set per row.
  let [j1] = pomeranzJ1J2(0, n, ll, ceilf, roundf);
  let j2: number;
  for (let i = 1; i < 2 * n + 2; i++) {
    const k1 = j1;
    [V0, V1] = [V1, V0];
    [V0s, V1s] = [V1s, V0s];
    V1.fill(0.0);
    [j1, j2] = pomeranzJ1J2(i, n, ll, ceilf, roundf);
    const pwrs = i === 1 || i === 2 * n + 1 ? gpower : i % 2 ? twogpower : onem2gpower;
    const ln2 = j2 - k1 + 1;
    if (ln2 > 0) {
      // Full convolution of a = V0[k1−V0s, +ln2) and b = pwrs[0, ln2) (both clipped to the arrays, like numpy
      // slices), of which entries [j1 − k1, j2 − k1] are kept.
      const aStart = k1 - V0s;
      const aLen = Math.min(ln2, npwrs - aStart);
      const bLen = Math.min(ln2, npwrs);
      const convStart = j1 - k1;
      const convLen = j2 - j1 + 1;
      let max = 0;
      for (let c = 0; c < convLen; c++) {
        const idx = convStart + c;
        let s = 0;
        const lo = Math.max(0, idx - (bLen - 1));
        const hi = Math.min(aLen - 1, idx);
        for (let a = lo; a <= hi; a++) s += V0[aStart + a] * pwrs[idx - a];
        V1[c] = s;
        if (s > max) max = s;
      }
      // Rescale to avoid underflow.
      if (max > 0 && max < EM128) {
        for (let c = 0; c < V1.length; c++) V1[c] *= EP128;
        expnt -= E128;
      }
      V1s = V0s + j1 - k1;
    }
  }
  // Multiply by n!.
  let ans = V1[n - V1s];
  for (let m = 1; m <= n; m++) {
    if (Math.abs(ans) > EP128) {
      ans *= EM128;
      expnt += E128;
    }
    ans *= m;
  }
  if (expnt !== 0) ans = ldexpNumber(ans, expnt);
  return clip01(ans);
}

/**
 * P(D_n ≤ x) by the Pelz-Good (1976) asymptotic series: the Li-Chien/Korolyuk expansion
 * K0(z) + K1(z)/√n + K2(z)/n + K3(z)/n^1.5 in z = x√n, each term rewritten with Jacobi theta identities into a
 * form that converges fast for small z.
 */
export function kolmognPelzGood(n: number, x: number): number {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const z = Math.sqrt(n) * x;
  const zsquared = z ** 2;
  const zthree = z ** 3;
  const zfour = z ** 4;
  const zsix = z ** 6;
  const qlog = -PI_SQUARED / 8 / zsquared;
  if (qlog < MIN_LOG) return 0.0; // z below about 0.0417
  let q = Math.exp(qlog);

  const k1a = -zsquared;
  const k1b = PI_SQUARED / 4;
  const k2a = 6 * zsix + 2 * zfour;
  const k2b = ((2 * zfour - 5 * zsquared) * PI_SQUARED) / 4;
  const k2c = (PI_FOUR * (1 - 2 * zsquared)) / 16;
  const k3d = (PI_SIX * (5 - 30 * zsquared)) / 64;
  const k3c = (PI_FOUR * (-60 * zsquared + 212 * zfour)) / 16;
  const k3b = (PI_SQUARED * (135 * zfour - 96 * zsix)) / 4;
  const k3a = -30 * zsix - 90 * z ** 8;

  // Horner scheme over the odd integers m = 2k − 1 for Σ c_m q^(m²).
  const K = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let k = maxk; k > 0; k--) {
    const m = 2 * k - 1;
    const msquared = m ** 2;
    const mfour = m ** 4;
    const msix = m ** 6;
    const qpower = Math.pow(q, 8 * k);
    const coeffs = [1.0, k1a + k1b * msquared, k2a + k2b * msquared + k2c * mfour, k3a + k3b * msquared + k3c * mfour + k3d * msix];
    for (let i = 0; i < 4; i++) K[i] = K[i] * qpower + coeffs[i];
  }
  const divisors = [z, 6 * zfour, 72 * z ** 7, 6480 * z ** 10];
  for (let i = 0; i < 4; i++) K[i] = (K[i] * q * SQRT2PI) / divisors[i];

  // The remaining sums over all integers k for K2 and K3 (no cancellation to fear: direct evaluation).
  q = Math.exp(-PI_SQUARED / 2 / zsquared);
  const sqrt3z = SQRT3 * z;
  let k2extra = 0;
  let k3extra = 0;
  for (let k = maxk; k > 0; k--) {
    const ksquared = k ** 2;
    const qpwer = q ** ksquared;
    const kspi = Math.PI * k;
    k2extra += ksquared * qpwer;
    k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksquared * qpwer;
  }
  K[2] += k2extra * ((PI_SQUARED * SQRT2PI) / (-36 * zthree));
  K[3] += k3extra * ((PI_SQUARED * SQRT2PI) / (216 * zsix));
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += K[i] / Math.pow(n * 1.0, i / 2.0);
  return sum;
}

/** Which method {@link kolmogn} uses for the survival function at (n, x). */
export function kolmognSfBranch(n: number, x: number): KolmognBranch {
  if (x >= 1.0) return 'x>=1';
  if (x <= 0.0) return 'x<=0';
  const t = n * x;
  if (t <= 1.0) return t <= 0.5 ? 't<=0.5' : 'ruben-gambino-small-t';
  if (t >= n - 1) return 'ruben-gambino-large-t';
  if (x >= 0.5) return 'smirnov-x>=0.5';
  const nxsquared = t * x;
  if (n <= 140) {
    if (nxsquared <= 0.754693) return 'durbin-n<=140';
    if (nxsquared <= 4) return 'pomeranz-n<=140';
    return 'smirnov-n<=140';
  }
  if (nxsquared >= 370.0) return 'zero-nx2>=370';
  if (nxsquared >= 2.2) return 'smirnov-n>140';
  // n·x² ≥ 18 would give CDF 1, but the survival function has returned before that.
  if (n <= 100000 && n * x ** 1.5 <= 1.4) return 'durbin-n>140';
  return 'pelz-good';
}

/**
 * P(D_n ≥ x) for the two-sided one-sample KS statistic with n a positive integer: SciPy's
 * `_kolmogn(n, x, cdf=False)`. NaN for a non-integer or non-positive n.
 */
export function kolmognSf(n: number, x: number): number {
  if (!Number.isInteger(n) || n <= 0 || Number.isNaN(x)) return Number.NaN;
  const branch = kolmognSfBranch(n, x);
  const t = n * x;
  switch (branch) {
    case 'x>=1':
      return 0.0;
    case 'x<=0':
    case 't<=0.5':
      return 1.0;
    case 'ruben-gambino-small-t': {
      // CDF = n!/n^n · (2t − 1)^n, as a running product for small n, through logs for large n.
      let cdf: number;
      if (n <= 140) {
        cdf = 1;
        for (let k = 1; k <= n; k++) cdf *= k * (1.0 / n) * (2 * t - 1);
      } else {
        cdf = Math.exp(logNFactorialDivNPowN(n) + n * Math.log(2 * t - 1));
      }
      return clip01(1.0 - cdf);
    }
    case 'ruben-gambino-large-t':
      return clip01(2 * (1.0 - x) ** n);
    case 'smirnov-x>=0.5':
    case 'smirnov-n<=140':
    case 'smirnov-n>140':
      return clip01(2 * smirnov(n, x));
    case 'durbin-n<=140':
    case 'durbin-n>140':
      return clip01(1.0 - kolmognDurbin(n, x));
    case 'pomeranz-n<=140':
      return clip01(1.0 - kolmognPomeranz(n, x));
    case 'zero-nx2>=370':
      return 0.0;
    case 'pelz-good':
      return clip01(1.0 - kolmognPelzGood(n, x));
  }
}

/**
 * `scipy.stats.kstwo.sf(x, n)`: the distribution's support is (0.5/n, 1), outside it the survival function is 1
 * below and 0 above; inside it is {@link kolmognSf}.
 */
export function kstwoSf(x: number, n: number): number {
  if (!Number.isInteger(n) || n < 1 || Number.isNaN(x)) return Number.NaN;
  if (x <= 0.5 / n) return 1.0;
  if (x >= 1.0) return 0.0;
  return kolmognSf(n, x);
}
