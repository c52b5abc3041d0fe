// Typed access to drift_fixtures.json (written by tools/scripts/scipy/ks_fixtures.py from SciPy itself) and the sample
// builder that mirrors the script's `build()` bit for bit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../shared/platform/random';

export type SampleSpec =
  | { values: number[] }
  | { kind: 'grid'; size: number; offset: number; scale: number; shift: number }
  | { kind: 'uniform' | 'irwinHall'; seed: number; size: number; scale: number; shift: number }
  | { kind: 'discrete'; seed: number; size: number; levels: number; scale: number; shift: number };

export interface Ks2sampCase {
  name: string;
  sample1: SampleSpec;
  sample2: SampleSpec;
  n1: number;
  n2: number;
  statistic: number;
  pvalue: number;
  method: 'exact' | 'asymp';
  branch: string;
  kstwoN?: number;
  enExact?: number;
}

export interface DriftFixtures {
  scipy: string;
  numpy: string;
  scipySource: string;
  ks2samp: Ks2sampCase[];
  kstwoSf: { n: number; x: number; sf: number; cdf: number; branch: string }[];
  smirnov: { n: number; x: number; sf: number }[];
  benjaminiHochberg: { p: number[]; adjusted: number[] }[];
  psi: { reference: number[]; current: number[]; psi: number }[];
}

export function loadDriftFixtures(): DriftFixtures {
  return JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'scipy', 'drift_fixtures.json'), 'utf8')) as DriftFixtures;
}

/** The script's `build(spec)`: only IEEE-exact operations on mulberry32 output, so the doubles are identical. */
export function buildSample(spec: SampleSpec): Float64Array {
  if ('values' in spec) return Float64Array.from(spec.values);
  const out = new Float64Array(spec.size);
  if (spec.kind === 'grid') {
    for (let i = 0; i < spec.size; i++) out[i] = ((i + spec.offset) / spec.size) * spec.scale + spec.shift;
    return out;
  }
  const rnd = mulberry32(spec.seed);
  for (let i = 0; i < spec.size; i++) {
    if (spec.kind === 'uniform') out[i] = rnd() * spec.scale + spec.shift;
    else if (spec.kind === 'discrete') out[i] = Math.floor(rnd() * spec.levels) * spec.scale + spec.shift;
    else {
      let s = rnd() + rnd();
      s = s + rnd();
      s = s + rnd();
      out[i] = (s - 2) * spec.scale + spec.shift;
    }
  }
  return out;
}

/** The agreement the issue asks for: within 1e-9 absolute or 1e-6 relative. */
export function closeToScipy(actual: number, expected: number): boolean {
  if (Object.is(actual, expected)) return true;
  const diff = Math.abs(actual - expected);
  return diff <= 1e-9 || diff <= 1e-6 * Math.abs(expected);
}
