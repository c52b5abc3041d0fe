// The KS port against SciPy's own numbers (test/fixtures/scipy/drift_fixtures.json, from tools/scripts/scipy/ks_fixtures.py).
import { ks2samp, ksPValue, ksStatisticSorted } from '../../../../shared/drift/statistics/ks';
import {
  kolmognDurbin,
  kolmognPelzGood,
  kolmognPomeranz,
  kolmognSfBranch,
  kstwoSf,
} from '../../../../shared/drift/statistics/kolmogorovTwoSided';
import { smirnov } from '../../../../shared/drift/statistics/kolmogorovOneSided';
import { roundHalfEven } from '../../../../shared/drift/statistics/ksExact';
import { buildSample, closeToScipy, loadDriftFixtures } from '../../../helpers/scipyDriftFixtures';

const fixtures = loadDriftFixtures();

function expectClose(actual: number, expected: number, what: string): void {
  if (!closeToScipy(actual, expected)) {
    throw new Error(`${what}: got ${actual}, SciPy ${expected} (diff ${Math.abs(actual - expected)})`);
  }
}

describe(`ks_2samp against SciPy ${fixtures.scipy}`, () => {
  it.each(fixtures.ks2samp.map((c) => [`${c.name} [${c.branch}]`, c] as const))('%s', (_label, c) => {
    const a = buildSample(c.sample1);
    const b = buildSample(c.sample2);
    expect([a.length, b.length]).toEqual([c.n1, c.n2]);
    const result = ks2samp(a, b);
    // D exactly, bit for bit.
    expect(result.statistic).toBe(c.statistic);
    expect(result.method).toBe(c.method);
    expectClose(result.pvalue, c.pvalue, 'p-value');
    if (c.method === 'asymp') {
      const m = Math.max(c.n1, c.n2);
      const n = Math.min(c.n1, c.n2);
      expect(roundHalfEven((m * n) / (m + n))).toBe(c.kstwoN);
      if (c.branch !== 'support-below') expect(kolmognSfBranch(c.kstwoN!, c.statistic)).toBe(c.branch);
    }
  });

  it('covers every exact method and every kolmogn branch', () => {
    const branches = new Set(fixtures.ks2samp.map((c) => c.branch));
    for (const b of [
      'exact-h=0',
      'exact-square',
      'exact-band',
      'support-below',
      'x>=1',
      'ruben-gambino-small-t',
      'ruben-gambino-large-t',
      'smirnov-x>=0.5',
      'durbin-n<=140',
      'pomeranz-n<=140',
      'smirnov-n<=140',
      'zero-nx2>=370',
      'smirnov-n>140',
      'durbin-n>140',
      'pelz-good',
    ]) {
      expect(branches).toContain(b);
    }
  });

  it('rounds n·m/(n+m) half to even, as numpy does (en = 5000.5 → 5000)', () => {
    const c = fixtures.ks2samp.find((x) => x.enExact === 5000.5)!;
    expect(c.kstwoN).toBe(5000);
    const asScipy = ksPValue(c.statistic, c.n1, c.n2);
    expect(asScipy.pvalue).toBe(kstwoSf(c.statistic, 5000));
    // Math.round would use 5001, and miss SciPy by far more than the agreed tolerance.
    expect(closeToScipy(kstwoSf(c.statistic, 5001), c.pvalue)).toBe(false);
    expectClose(asScipy.pvalue, c.pvalue, 'p');
  });

  it('is symmetric in the samples for D, and D does not depend on input order', () => {
    const c = fixtures.ks2samp.find((x) => x.name.startsWith('ties across samples'))!;
    const a = buildSample(c.sample1);
    const b = buildSample(c.sample2);
    expect(ks2samp(b, a).statistic).toBe(c.statistic);
    expect(ks2samp(a.slice().reverse(), b).statistic).toBe(c.statistic);
    expect(ksStatisticSorted(a, b)).toBeCloseTo(c.statistic, 15);
  });

  it('rejects empty samples and NaN', () => {
    expect(() => ks2samp([], [1])).toThrow(/non-empty/);
    expect(() => ks2samp([1, Number.NaN], [1])).toThrow(/NaN/);
  });
});

describe('kstwo.sf and the kolmogn methods against SciPy', () => {
  it.each(fixtures.kstwoSf.map((c) => [`n=${c.n} x=${c.x} [${c.branch}]`, c] as const))('%s', (_l, c) => {
    expectClose(kstwoSf(c.x, c.n), c.sf, 'sf');
    if (c.x > 0.5 / c.n && c.x < 1) expect(kolmognSfBranch(c.n, c.x)).toBe(c.branch);
    // The methods themselves, on the CDF (the SF there is 1 − a small CDF, which would hide errors).
    if (c.branch.startsWith('durbin')) expectClose(kolmognDurbin(c.n, c.x), c.cdf, 'Durbin cdf');
    if (c.branch.startsWith('pomeranz')) expectClose(kolmognPomeranz(c.n, c.x), c.cdf, 'Pomeranz cdf');
    if (c.branch === 'pelz-good') expectClose(kolmognPelzGood(c.n, c.x), c.cdf, 'Pelz-Good cdf');
  });

  it('has fixtures on every branch', () => {
    const branches = new Set(fixtures.kstwoSf.map((c) => c.branch));
    for (const b of [
      'durbin-n<=140',
      'pomeranz-n<=140',
      'smirnov-n<=140',
      'durbin-n>140',
      'pelz-good',
      'smirnov-n>140',
      'zero-nx2>=370',
      'ruben-gambino-small-t',
      'ruben-gambino-large-t',
      'smirnov-x>=0.5',
    ]) {
      expect(branches).toContain(b);
    }
  });
});

describe('scipy.special.smirnov (one-sided)', () => {
  it.each(fixtures.smirnov.map((c) => [`n=${c.n} x=${c.x}`, c] as const))('%s', (_l, c) => {
    expectClose(smirnov(c.n, c.x), c.sf, 'smirnov');
  });
});
