// Mergeable partial counts: merged partitions equal one pass bit for bit, and D/p from counts equal SciPy's
// ks_2samp(reference sample, all current values).
import { buildBaseline, type Baseline, type ReferenceDistribution } from '../../../../shared/drift/baseline';
import { mulberry32 } from '../../../../shared/platform/random';
import { ks2samp, ksStatisticSorted } from '../../../../shared/drift/statistics/ks';
import {
  addValues,
  createPartialCounts,
  currentSummary,
  finalizeDistribution,
  ksStatisticFromCounts,
  mergePartialCounts,
  type PartialCounts,
} from '../../../../shared/drift/statistics/partialCounts';
import { comparisonBins, psiBinCounts, psiEdgesFromSorted, psiFromCounts, proportions } from '../../../../shared/drift/statistics/psi';
import { buildSample, closeToScipy, loadDriftFixtures } from '../../../helpers/scipyDriftFixtures';

/** A one-feature baseline whose KS sample is exactly `reference` (sorted), as the fixtures' sample 1. */
function baselineFor(reference: Float64Array): Baseline {
  const sorted = Float64Array.from(reference).sort();
  const edges = psiEdgesFromSorted(sorted);
  const counts = psiBinCounts(edges, sorted);
  const dist = (name: string): ReferenceDistribution => ({
    name,
    rows: sorted.length,
    count: sorted.length,
    nonFinite: { nan: 0, posInf: 0, negInf: 0 },
    mean: 0,
    std: 0,
    min: sorted[0],
    max: sorted[sorted.length - 1],
    psi: { edges, counts, proportions: proportions(counts) },
    sample: Array.from(sorted),
  });
  return {
    schemaVersion: 1,
    model: { name: 'test', version: '1' },
    createdAt: '2026-11-26T00:00:00.000Z',
    sampling: { method: 'uniform-rows-without-replacement', seed: 0, sampleSize: sorted.length, referenceRows: sorted.length },
    features: [dist('f')],
    prediction: dist('probability'),
  };
}

/** Splits values into `parts` contiguous partitions of random sizes (some empty), counts each, and merges them in a
 * shuffled order and uneven groups after a JSON round trip, as a Durable fan-in would. */
function countInPartitions(baseline: Baseline, index: number, values: Float64Array, parts: number, seed: number): PartialCounts {
  const random = mulberry32(seed);
  const cuts = Array.from({ length: parts - 1 }, () => Math.floor(random() * (values.length + 1))).sort((a, b) => a - b);
  const bounds = [0, ...cuts, values.length];
  const partials: PartialCounts[] = [];
  for (let p = 0; p < parts; p++) {
    const partial = createPartialCounts(baseline);
    addValues(baseline, partial, index, values.subarray(bounds[p], bounds[p + 1]));
    partials.push(JSON.parse(JSON.stringify(partial)) as PartialCounts);
  }
  for (let i = partials.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [partials[i], partials[j]] = [partials[j], partials[i]];
  }
  // Merge as a tree of uneven groups: ((p0 + p1 + p2) + (p3)) + …
  let merged = createPartialCounts(baseline);
  for (let i = 0; i < partials.length; i += 3)
    merged = mergePartialCounts(baseline, [merged, mergePartialCounts(baseline, partials.slice(i, i + 3))]);
  return merged;
}

function exactFields(p: PartialCounts) {
  return p.distributions.map(({ sum: _s, sumSquares: _q, ...rest }) => rest);
}

describe('partial counts', () => {
  const fixtures = loadDriftFixtures();

  it('capture the extremes between reference points (counts below each point are needed)', () => {
    // SciPy: ks_2samp([0, 10], [-1, -1, -1, 20]) → D = 0.75, attained at −1, a current value below every reference
    // point; counting only values ≤ each reference point would give 0.25.
    const baseline = baselineFor(Float64Array.from([0, 10]));
    const partial = createPartialCounts(baseline);
    addValues(baseline, partial, 0, [-1, -1, -1, 20]);
    const c = partial.distributions[0];
    expect(c.gap).toEqual([3, 0, 1]);
    expect(c.eq).toEqual([0, 0]);
    expect(ksStatisticFromCounts(baseline.features[0], c)).toBe(0.75);
    const r = finalizeDistribution(baseline.features[0], partial, 0);
    expect(r.ks?.statistic).toBe(0.75);
    expect(closeToScipy(r.ks!.pvalue, 0.4000000000000001)).toBe(true);
    // And a maximum at a reference point, with current values between the points: ks_2samp([0,10],[2..7]) → 0.5.
    const p2 = createPartialCounts(baseline);
    addValues(baseline, p2, 0, [2, 3, 4, 5, 6, 7]);
    expect(ksStatisticFromCounts(baseline.features[0], p2.distributions[0])).toBe(0.5);
  });

  it('count NaN and ±Infinity separately and keep them out of PSI and KS', () => {
    const baseline = baselineFor(Float64Array.from([1, 2, 3, 4, 5]));
    const partial = createPartialCounts(baseline);
    addValues(baseline, partial, 0, [1, Number.NaN, Infinity, -Infinity, 3, Number.NaN, 9]);
    const c = partial.distributions[0];
    expect([c.rows, c.finite, c.nan, c.posInf, c.negInf]).toEqual([7, 3, 2, 1, 1]);
    expect(c.bins.reduce((a, b) => a + b, 0)).toBe(3);
    expect([c.min, c.max, c.sum]).toEqual([1, 9, 13]);
    const r = finalizeDistribution(baseline.features[0], partial, 0);
    expect(r.ks?.statistic).toBe(ks2samp([1, 2, 3, 4, 5], [1, 3, 9]).statistic);
    expect(currentSummary(c)).toEqual({ mean: 13 / 3, std: Math.sqrt(Math.max(0, 91 / 3 - (13 / 3) ** 2)), min: 1, max: 9 });
  });

  it('give null PSI and KS for a window with no finite value', () => {
    const baseline = baselineFor(Float64Array.from([1, 2]));
    const partial = createPartialCounts(baseline);
    addValues(baseline, partial, 0, [Number.NaN]);
    expect(finalizeDistribution(baseline.features[0], partial, 0)).toMatchObject({ psi: null, ks: null });
    expect(currentSummary(partial.distributions[0])).toBeNull();
  });

  it('merged partitions equal a single pass bit for bit, on a real baseline with discrete and tied features', () => {
    const random = mulberry32(99);
    const names = ['continuous', 'discrete', 'rounded', 'sparse'];
    const row = (shift: number) => [
      random() + shift,
      Math.floor(random() * 4),
      Math.round((random() + shift) * 20) / 20,
      random() < 0.9 ? 0 : Math.floor(random() * 3) + 1,
    ];
    const refRows = Array.from({ length: 3000 }, () => row(0));
    const baseline = buildBaseline({
      modelName: 'spam-detector',
      modelVersion: '1',
      featureNames: names,
      rows: refRows,
      probabilities: refRows.map(() => random()),
      sampleSize: 1000,
      seed: 5,
      createdAt: '2026-11-26T00:00:00Z',
    });
    const current = Array.from({ length: 20000 }, (_, i) => row(i < 10000 ? 0 : 0.1));
    current[17][0] = Number.NaN;
    current[99][2] = Infinity;
    const probabilities = Float64Array.from(current, () => random());
    const single = createPartialCounts(baseline);
    const columns = names.map((_, j) => Float64Array.from(current, (r) => r[j]));
    columns.forEach((col, j) => addValues(baseline, single, j, col));
    addValues(baseline, single, names.length, probabilities);

    for (const [parts, seed] of [
      [1, 1],
      [7, 2],
      [64, 3],
    ] as const) {
      let merged = createPartialCounts(baseline);
      const perDistribution = [...columns, probabilities].map((col, j) => countInPartitions(baseline, j, col, parts, seed + j));
      // Each partial only touched its own distribution, so merging them all gives the whole window.
      merged = mergePartialCounts(baseline, perDistribution);
      expect(exactFields(merged)).toEqual(exactFields(single));
      [...baseline.features, baseline.prediction].forEach((ref, j) => {
        const a = finalizeDistribution(ref, merged, j);
        const b = finalizeDistribution(ref, single, j);
        expect(a.ks).toEqual(b.ks);
        expect(a.psi).toBe(b.psi);
        // …and equal to the direct computation on the values.
        const finite = Float64Array.from([...columns, probabilities][j].filter(Number.isFinite)).sort();
        expect(ksStatisticFromCounts(ref, merged.distributions[j])).toBe(ksStatisticSorted(ref.sample, finite));
        expect(a.ks).toEqual(ks2samp(ref.sample, finite));
        // PSI edges come from all 3000 reference rows, the KS sample from 1000 of them: edges between sample points.
        expect(merged.distributions[j].bins).toEqual(psiBinCounts(comparisonBins(ref).edges, finite));
        expect(a.psi).toBe(psiFromCounts(comparisonBins(ref).proportions, psiBinCounts(comparisonBins(ref).edges, finite)));
      });
    }
  });

  it('reject partials shaped for another baseline', () => {
    const a = baselineFor(Float64Array.from([1, 2, 3]));
    const b = baselineFor(Float64Array.from([1, 2]));
    expect(() => mergePartialCounts(a, [createPartialCounts(b)])).toThrow(/has 4 entries, expected 5/);
    expect(() => addValues(a, createPartialCounts(a), 5, [1])).toThrow(/no distribution 5/);
    const newer = { ...a, createdAt: '2026-11-27T00:00:00.000Z' };
    expect(() => mergePartialCounts(newer, [createPartialCounts(a)])).toThrow(/made against baseline test\/1@2026-11-26T00:00:00.000Z/);
  });

  // Every SciPy ks_2samp fixture, with sample 1 as the reference sample and sample 2 as the current window split
  // into partitions: D exactly and p within tolerance of SciPy (ties, discrete data, both methods, every branch).
  const cases = fixtures.ks2samp.filter((c) => c.n1 <= 20000);
  it.each(cases.map((c) => [`${c.name} [${c.branch}]`, c] as const))('from counts equal SciPy: %s', (_l, c) => {
    const reference = buildSample(c.sample1);
    const current = buildSample(c.sample2);
    const baseline = baselineFor(reference);
    const merged = countInPartitions(baseline, 0, current, Math.min(16, current.length), c.n2);
    const r = finalizeDistribution(baseline.features[0], merged, 0);
    expect(r.ks!.statistic).toBe(c.statistic);
    expect(r.ks!.method).toBe(c.method);
    if (!closeToScipy(r.ks!.pvalue, c.pvalue)) throw new Error(`p ${r.ks!.pvalue} vs SciPy ${c.pvalue}`);
  });
});
