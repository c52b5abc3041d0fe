import {
  PSI_FLOOR,
  psi,
  psiBinCounts,
  psiBinIndex,
  psiEdgesFromSorted,
  psiFromCounts,
  psiStatus,
  proportions,
} from '../../../../shared/drift/statistics/psi';
import { benjaminiHochberg } from '../../../../shared/drift/statistics/multipleTesting';
import { loadDriftFixtures } from '../../../helpers/scipyDriftFixtures';

const fixtures = loadDriftFixtures();

describe('PSI', () => {
  it.each(fixtures.psi.map((c, i) => [i, c] as const))('matches the numpy reference formula, case %d', (_i, c) => {
    expect(psi(c.reference, c.current)).toBeCloseTo(c.psi, 12);
  });

  it('is zero for identical distributions, symmetric, and bounded by the floor for empty bins', () => {
    expect(psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5])).toBe(0);
    expect(psi([0.7, 0.3, 0], [0.6, 0.35, 0.05])).toBe(psi([0.6, 0.35, 0.05], [0.7, 0.3, 0]));
    // Empty reference bin with 5 % of the current rows: (0.05 − 1e-4)·ln(0.05/1e-4) ≈ 0.31.
    expect(psi([0.5, 0.5, 0], [0.475, 0.475, 0.05])).toBeGreaterThan(0.2);
    expect(PSI_FLOOR).toBe(1e-4);
    expect(() => psi([1], [0.5, 0.5])).toThrow(RangeError);
  });

  it('uses the thresholds 0.1 and 0.2', () => {
    expect(psiStatus(0)).toBe('healthy');
    expect(psiStatus(0.0999)).toBe('healthy');
    expect(psiStatus(0.1)).toBe('warning');
    expect(psiStatus(0.2)).toBe('warning');
    expect(psiStatus(0.2001)).toBe('critical');
    expect(() => psiStatus(Number.NaN)).toThrow(RangeError);
  });

  it('bins right-closed with open outer bins', () => {
    const edges = [1, 2, 3];
    expect([0, 1, 1.5, 2, 3, 3.01].map((v) => psiBinIndex(edges, v))).toEqual([0, 0, 1, 1, 2, 3]);
    expect(psiBinCounts(edges, [0, 1, 2, 5, Number.NaN, Infinity])).toEqual([2, 1, 0, 1]);
    expect(proportions([1, 3])).toEqual([0.25, 0.75]);
    expect(proportions([0, 0])).toEqual([0, 0]);
    expect(psiFromCounts([0.5, 0.5], [0, 0])).toBeNaN();
    expect(psiFromCounts([0.5, 0.5], [10, 10])).toBe(0);
  });

  it('takes inverted-CDF deciles as edges, deduplicated', () => {
    const hundred = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(psiEdgesFromSorted(hundred)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(psiEdgesFromSorted([5])).toEqual([5]);
    expect(psiEdgesFromSorted([0, 0, 0, 0, 0, 0, 0, 1, 1, 1])).toEqual([0, 1]);
    expect(psiEdgesFromSorted([])).toEqual([]);
    // Each bin below the top holds at least 10 % of a continuous reference.
    const counts = psiBinCounts(psiEdgesFromSorted(hundred), hundred);
    expect(counts).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 10]);
  });
});

describe('Benjamini-Hochberg', () => {
  it.each(fixtures.benjaminiHochberg.map((c, i) => [i, c.p.length, c] as const))(
    'matches scipy.stats.false_discovery_control, case %d (%d p-values)',
    (_i, _n, c) => {
      const adjusted = benjaminiHochberg(c.p);
      adjusted.forEach((q, i) => expect(Math.abs(q - c.adjusted[i])).toBeLessThanOrEqual(1e-15 * Math.max(1, c.adjusted[i])));
    },
  );

  it('is monotone in p, at least p, capped at 1', () => {
    const p = fixtures.benjaminiHochberg[5].p;
    const q = benjaminiHochberg(p);
    const order = p.map((_, i) => i).sort((a, b) => p[a] - p[b]);
    for (let k = 1; k < order.length; k++) expect(q[order[k]]).toBeGreaterThanOrEqual(q[order[k - 1]]);
    q.forEach((x, i) => {
      expect(x).toBeGreaterThanOrEqual(p[i]);
      expect(x).toBeLessThanOrEqual(1);
    });
  });

  it('rejects p-values outside [0, 1]', () => {
    expect(() => benjaminiHochberg([0.1, Number.NaN])).toThrow(RangeError);
    expect(() => benjaminiHochberg([1.5])).toThrow(RangeError);
    expect(benjaminiHochberg([])).toEqual([]);
  });
});
