// Double-double arithmetic (an unevaluated sum hi + lo of two doubles, about 106 bits), as used by SciPy's one-sided
// Smirnov distribution (xsf `cephes/dd_real.h`, after Hida, Li and Bailey's QD library). The Smirnov sum multiplies
// binomial coefficients near 2^±1000 by powers near 2^∓1000; plain doubles lose the last bits there, and the port
// has to keep them to agree with SciPy.
//
// Only the operations the Smirnov port needs are here. JavaScript has no fused multiply-add, so the exact product
// error uses Dekker's splitting, which gives the same (exact) error term as SciPy's `fma(a, b, -p)` whenever the
// product neither overflows nor underflows.

/** hi + lo with |lo| ≤ ulp(hi)/2. */
export interface DD {
  readonly hi: number;
  readonly lo: number;
}

export const dd = (hi: number, lo = 0): DD => ({ hi, lo });

// Module bindings of the two globals this hot code calls per term. Under Jest each test file runs in a vm context,
// where every lookup of a global name goes through the context's interceptor: the Smirnov sum (up to 10^6 terms)
// ran about 8x slower there than in Node's main context. A module-scope binding is resolved once. No effect on
// what is computed, nor outside a vm context.
const Math = globalThis.Math;
const Number = globalThis.Number;

// fl(a + b) and its rounding error, assuming |a| ≥ |b|.
function quickTwoSum(a: number, b: number): DD {
  const s = a + b;
  return { hi: s, lo: b - (s - a) };
}

// fl(a + b) and its rounding error, for any a, b (Knuth).
function twoSum(a: number, b: number): DD {
  const s = a + b;
  const c = s - a;
  const d = b - c;
  const e = s - c;
  return { hi: s, lo: a - e + d };
}

const SPLITTER = 134217729; // 2^27 + 1
const SPLIT_THRESHOLD = 6.69692879491417e299; // 2^996: above it, scale down first so that SPLITTER * a cannot overflow

function split(a: number): [number, number] {
  if (a > SPLIT_THRESHOLD || a < -SPLIT_THRESHOLD) {
    const s = a * 3.7252902984619140625e-9; // 2^-28
    const t = SPLITTER * s;
    const hi = t - (t - s);
    return [hi * 268435456, (s - hi) * 268435456];
  }
  const t = SPLITTER * a;
  const hi = t - (t - a);
  return [hi, a - hi];
}

// fl(a * b) and its exact rounding error (Dekker).
function twoProd(a: number, b: number): DD {
  const p = a * b;
  const [ah, al] = split(a);
  const [bh, bl] = split(b);
  return { hi: p, lo: ah * bh - p + ah * bl + al * bh + al * bl };
}

export function add(a: DD, b: DD): DD {
  // The IEEE-style accurate sum (Briggs and Kahan).
  const s = twoSum(a.hi, b.hi);
  const t = twoSum(a.lo, b.lo);
  let r = quickTwoSum(s.hi, s.lo + t.hi);
  r = quickTwoSum(r.hi, r.lo + t.lo);
  return r;
}

export function addNumber(a: DD, b: number): DD {
  const s = twoSum(a.hi, b);
  return quickTwoSum(s.hi, s.lo + a.lo);
}

export const neg = (a: DD): DD => ({ hi: -a.hi, lo: -a.lo });

export const sub = (a: DD, b: DD): DD => add(a, neg(b));

export const subNumber = (a: DD, b: number): DD => addNumber(a, -b);

export function mul(a: DD, b: DD): DD {
  const p = twoProd(a.hi, b.hi);
  return quickTwoSum(p.hi, p.lo + (a.hi * b.lo + a.lo * b.hi));
}

export function mulNumber(a: DD, b: number): DD {
  const p1 = twoProd(a.hi, b);
  const p2 = twoProd(a.lo, b);
  return quickTwoSum(p1.hi, p2.lo + p2.hi + p1.lo);
}

export function div(a: DD, b: DD): DD {
  // Long division with three partial quotients.
  const q1 = a.hi / b.hi;
  let r = sub(a, mulNumber(b, q1));
  const q2 = r.hi / b.hi;
  r = sub(r, mulNumber(b, q2));
  const q3 = r.hi / b.hi;
  return addNumber(quickTwoSum(q1, q2), q3);
}

export const divNumber = (a: DD, b: number): DD => div(a, dd(b));

export function floor(a: DD): DD {
  const hi = Math.floor(a.hi);
  if (hi !== a.hi) return { hi, lo: 0 };
  // The high word is already an integer: the fraction, if any, is in the low word.
  return quickTwoSum(hi, Math.floor(a.lo));
}

export const isZero = (a: DD): boolean => a.hi === 0 && a.lo === 0;

// One shared 8-byte buffer for bit access: frexp runs twice per term of the Smirnov sum, so it must not allocate.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // index of the high word (endianness)

/** x = m · 2^e with 0.5 ≤ |m| < 1 (C's frexp); 0, ±∞ and NaN come back with e = 0. */
export function frexpNumber(x: number): [number, number] {
  if (x === 0 || !Number.isFinite(x)) return [x, 0];
  f64[0] = x;
  let biased = (u32[HI] >>> 20) & 0x7ff;
  let extra = 0;
  if (biased === 0) {
    // Subnormal: scale into the normal range first.
    f64[0] = x * 2 ** 64;
    biased = (u32[HI] >>> 20) & 0x7ff;
    extra = -64;
  }
  // Set the exponent field to that of 0.5 (biased 1022), keeping sign and mantissa.
  u32[HI] = (u32[HI] & 0x800fffff) | (1022 << 20);
  return [f64[0], biased - 1022 + extra];
}

/** x · 2^e (C's ldexp), in steps of 2^±1022 so that no intermediate power of two overflows. Exact unless the result
 * is subnormal (a region far below anything these probabilities need). */
export function ldexpNumber(x: number, e: number): number {
  let y = x;
  let k = e;
  while (k > 1023 && Number.isFinite(y) && y !== 0) {
    y *= 2 ** 1023;
    k -= 1023;
  }
  while (k < -1022 && y !== 0) {
    y *= 2 ** -1022;
    k += 1022;
  }
  return y === 0 || !Number.isFinite(y) ? y : y * 2 ** k;
}

export const ldexp = (a: DD, e: number): DD => ({ hi: ldexpNumber(a.hi, e), lo: ldexpNumber(a.lo, e) });

/** a = m · 2^e with 0.5 ≤ |m.hi| < 1, or |m.hi| = 1 with m.hi·m.lo < 0 (as SciPy's dd frexp). */
export function frexp(a: DD): [DD, number] {
  let [man, e] = frexpNumber(a.hi);
  let b1 = ldexpNumber(a.lo, -e);
  if (Math.abs(man) === 0.5 && man * b1 < 0) {
    man *= 2;
    b1 *= 2;
    e -= 1;
  }
  return [{ hi: man, lo: b1 }, e];
}
