// The one-sided Kolmogorov-Smirnov (Smirnov) survival function P(D+_n ≥ x), ported from SciPy's
// `scipy.special.smirnov` (xsf `cephes/kolmogorov.h`, `_smirnov`, by Paul van Mulbregt, arXiv:1802.06966).
//
// The two-sided distribution uses 2·smirnov(n, x) wherever the two one-sided tails cannot overlap (x ≥ 0.5) or
// their overlap is negligible (large n·x²), so this is on the path of most KS p-values for big windows.
//
// Birnbaum-Tingey / Smirnov formula:
//   P(D+_n ≥ x) = x · Σ_{v=0}^{⌊n(1−x)⌋} C(n, v) (1 − x − v/n)^(n−v) (x + v/n)^(v−1)
// The terms are positive, but C(n, v) and the powers leave the double range for large n, so each term is carried
// as a double-double significand and a separate binary exponent, and the sum in double-double.

import * as D from './kolmogorovDoubleDouble';
import type { DD } from './kolmogorovDoubleDouble';

// Globals bound once, as in kolmogorovDoubleDouble.ts: the Smirnov sum looks them up per term.
const Math = globalThis.Math;
const Number = globalThis.Number;

/** Beyond this n, SciPy (and this port) use the closed-form approximation p ≈ exp(−(6nx + 1)² / 18n). */
const SMIRNOV_MAX_COMPUTE_N = 1_000_000;
/** Use the (alternating) upper sum only when it has at most this many terms and n ≥ SM_UPPERSUM_MIN_N. */
const SM_UPPER_MAX_TERMS = 3;
const SM_UPPERSUM_MIN_N = 10;
/** Keep partial powers above 2^-960 so that both words of a double-double stay normal. */
const SM_MAX_EXPONENT = 960;
/** cephes MINLOG = log(2^-1075): exp() of anything below it is 0. (Cephes' -7.451332191019412076235e2, to the
 * digits a double holds.) */
const MINLOG = -745.1332191019412;

/** a^m in double-double from a double-double a: pow() on the high word, corrected for the low word by
 * (1 + lo/hi)^m, as SciPy does (a full double-double power would be much slower for no visible gain). */
function powD(a: DD, m: number): DD {
  if (m <= 0) return m === 0 ? D.dd(1) : D.div(D.dd(1), powD(a, -m));
  if (D.isZero(a)) return D.dd(0);
  const ans = Math.pow(a.hi, m);
  const r = a.lo / a.hi;
  let adj = m * r;
  if (Math.abs(adj) > 1e-8) {
    // Two Taylor terms of (1 + r)^m while they suffice, else exp(m·log1p(r)) − 1.
    adj = Math.abs(adj) < 1e-4 ? adj + m * r * (((m - 1) / 2.0) * r) : Math.expm1(m * Math.log1p(r));
  }
  return D.addNumber(D.dd(ans), ans * adj);
}

/** (a + b)^m rounded to a double. */
function pow2(a: number, b: number, m: number): number {
  return powD(D.addNumber(D.dd(a), b), m).hi;
}

/** ((a + b) / (c + d))^m in double-double. */
function pow4D(a: number, b: number, c: number, d: number, m: number): DD {
  if (m <= 0) return m === 0 ? D.dd(1) : pow4D(c, d, a, b, -m);
  const A = D.addNumber(D.dd(a), b);
  const C = D.addNumber(D.dd(c), d);
  if (D.isZero(A)) return D.isZero(C) ? D.dd(Number.NaN) : D.dd(0);
  if (D.isZero(C)) return D.dd(A.hi < 0 ? -Infinity : Infinity);
  return powD(D.div(A, C), m);
}

/** |x + x·2^-52|, i.e. x nudged up by about an ulp: used to pick a power of two for splitting long powers. */
function nextPowerOf2(x: number): number {
  const q = D.ldexpNumber(x, 1 - 53);
  const L = Math.abs(q + x);
  return L === 0 ? Math.abs(x) : L;
}

/** a^m as (significand, binary exponent), splitting the power so that no partial result underflows. */
function pow2ScaledD(a: DD, m: number): [DD, number] {
  if (m <= 0) {
    if (m === 0) return [D.dd(1), 0];
    const [inv, e1] = pow2ScaledD(a, -m);
    const [ans, e2] = D.frexp(D.div(D.dd(1), inv));
    return [ans, -e1 + e2];
  }
  const [y, yE] = D.frexp(a);
  if (m === 1) return [y, yE];
  let maxExpt = SM_MAX_EXPONENT;
  // y^maxExpt must stay ≥ 2^-960; a cheap test first, log() only when the power might underflow.
  if ((m * (y.hi - 1)) / y.hi < -SM_MAX_EXPONENT * Math.LN2) {
    const lg2y = Math.log(y.hi) / Math.LN2;
    if (m * lg2y <= -SM_MAX_EXPONENT) {
      maxExpt = Math.trunc(nextPowerOf2(-SM_MAX_EXPONENT / lg2y + 1) / 2);
    }
  }
  if (m <= maxExpt) {
    const [ans, ansE] = D.frexp(powD(y, m));
    return [ans, ansE + m * yE];
  }
  // y^m = (y^maxExpt)^q · y^r
  const q = Math.trunc(m / maxExpt);
  const r = m % maxExpt;
  const [y2r, y2rE] = pow2ScaledD(y, r);
  const [y2m, y2mE] = pow2ScaledD(y, maxExpt);
  const [y2mq, y2mqE0] = pow2ScaledD(y2m, q);
  const [ans, ansE] = D.frexp(D.mul(y2r, y2mq));
  return [ans, ansE + (y2mqE0 + y2mE * q) + y2rE + m * yE];
}

/** floor(n·x) and the fractional part, computed exactly in double-double (n·x is rarely exact in doubles). */
function modNX(n: number, x: number): { nxFloor: number; alpha: number; nx: number } {
  const nxD = D.mulNumber(D.dd(x), n);
  const floorD = D.floor(nxD);
  let alpha = D.sub(nxD, floorD).hi;
  let nxFloor = Math.trunc(floorD.hi);
  // A fraction that rounds to 1 belongs to the next integer.
  if (alpha === 1) {
    nxFloor += 1;
    alpha = 0;
  }
  return { nxFloor, alpha, nx: nxD.hi };
}

/** One term A_v = C(n, v) (1 − x − v/n)^(n−v) (x + v/n)^(v−1), with C(n, v) given as significand · 2^exponent. */
function termAv(n: number, x: number, v: number, cMan: DD, cExp: number): DD {
  const t2x = D.subNumber(D.divNumber(D.dd(n - v), n), x);
  const [t2, t2E] = pow2ScaledD(t2x, n - v);
  const t1x = D.addNumber(D.divNumber(D.dd(v), n), x);
  const [t1, t1E] = pow2ScaledD(t1x, v - 1);
  return D.ldexp(D.mul(D.mul(t1, t2), cMan), cExp + t1E + t2E);
}

/** C(n, j+1) from C(n, j) = cMan · 2^cExp, renormalised. */
function nextBinomial(cMan: DD, cExp: number, n: number, j: number): [DD, number] {
  const ratio = D.divNumber(D.dd(n - j), j + 1.0);
  const [man, e] = D.frexp(D.mul(cMan, ratio));
  return [man, cExp + e];
}

/**
 * P(D+_n ≥ x): the survival function of the one-sided KS statistic for a sample of size n, as
 * `scipy.special.smirnov(n, x)`. n is a positive integer; x in [0, 1] (NaN otherwise).
 */
export function smirnov(n: number, x: number): number {
  if (!(n > 0 && x >= 0.0 && x <= 1.0) || !Number.isInteger(n)) return Number.NaN;
  if (n === 1) return 1 - x;
  if (x === 0.0) return 1.0;
  if (x === 1.0) return 0.0;

  const { nxFloor, alpha } = modNX(n, x);
  let n1mxfl = n - nxFloor - (alpha === 0 ? 0 : 1);
  let n1mxceil = n - nxFloor;
  // When n·x is an integer, the last term of either sum is zero: leave it out.
  if (alpha === 0) {
    n1mxfl -= 1;
    n1mxceil += 1;
  }

  // x ≤ 1/n: closed form x (1 + x)^(n−1).
  if (nxFloor === 0 || (nxFloor === 1 && alpha === 0)) {
    return clamp01(1 - x * pow2(1, x, n - 1));
  }
  // The survival function underflows.
  if (-2 * n * x * x < MINLOG) return 0;
  // x ≥ 1 − 1/n: closed form (1 − x)^n.
  if (nxFloor >= n - 1) return clamp01(pow2(1, -x, n));
  // n too large to sum: p ≈ exp(−(6nx + 1)² / 18n).
  if (n > SMIRNOV_MAX_COMPUTE_N) {
    const logp = -Math.pow(6.0 * n * x + 1, 2) / 18.0 / n;
    return clamp01(logp < -Math.LN2 ? Math.exp(logp) : 1 + Math.expm1(logp));
  }

  // The upper sum (terms v = n, n−1, …, alternating in sign after rewriting) is used only when it is very short;
  // otherwise it loses about 1.6 bits per term.
  const nUpperTerms = n - n1mxceil + 1;
  const useUpperSum =
    (nUpperTerms <= 1 && x < 0.5) || (n >= SM_UPPERSUM_MIN_N && nUpperTerms <= SM_UPPER_MAX_TERMS && x <= 0.5 / Math.sqrt(n));

  let start = 0;
  let step = 1;
  let nTerms = n1mxfl + 1;
  let aj: DD;
  if (useUpperSum) {
    start = n;
    step = -1;
    nTerms = n - n1mxceil + 1;
    aj = pow4D(1, x, 1, 0, n - 1);
  } else {
    aj = D.divNumber(pow4D(1, -x, 1, 0, n), x);
  }
  let sum = D.add(D.dd(0), aj);
  let [cMan, cExp] = nextBinomial(D.dd(1), 0, n, 0);
  const vmid = Math.trunc(n / 2);
  for (let j = 1; j < nTerms; j++) {
    const v = start + j * step;
    aj = termAv(n, x, v, cMan, cExp);
    if (Number.isFinite(aj.hi) && !D.isZero(aj)) sum = D.add(sum, aj);
    if (!D.isZero(aj)) {
      // Stop once the remaining terms cannot move the sum (they decrease from here on).
      if (4 * (nTerms - j) * Math.abs(aj.hi) < Number.EPSILON * sum.hi && j !== nTerms - 1) break;
    } else if (j > vmid) {
      break;
    }
    [cMan, cExp] = nextBinomial(cMan, cExp, n, j);
  }
  const prob = D.mulNumber(sum, x).hi;
  return clamp01(step < 0 ? 1 - prob : prob);
}

function clamp01(p: number): number {
  return Math.min(Math.max(p, 0.0), 1.0);
}
