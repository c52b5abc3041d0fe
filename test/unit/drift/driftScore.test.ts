// The drift run's decision rules on in-memory data (compareColumns → computeDriftReport): effect size AND
// significance, Benjamini-Hochberg across features, insufficient data, NaN/Inf reporting, the aggregate.
import { compareColumns } from '../../../tools/cli/driftFileComparison';
import { mulberry32 } from '../../../shared/platform/random';
import { DriftReport } from '../../../shared/drift/report';

function normal(random: () => number): number {
  // Box-Muller on two uniforms (0 excluded).
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function dataset(n: number, seed: number, make: Record<string, (r: () => number, i: number) => number>) {
  const random = mulberry32(seed);
  const columns = new Map<string, Float64Array>();
  for (const [name, f] of Object.entries(make))
    columns.set(
      name,
      Float64Array.from({ length: n }, (_, i) => f(random, i)),
    );
  return { source: `seed-${seed}`, columns, rows: n };
}

function compare(ref: ReturnType<typeof dataset>, cur: ReturnType<typeof dataset>, minRows = 100): DriftReport {
  return compareColumns(ref, cur, {
    runId: 'test',
    createdAt: new Date('2026-11-26T06:00:00Z'),
    thresholds: { psi_warning: 0.1, psi_critical: 0.2, alpha: 0.05, min_rows: minRows, critical_feature_share: 0.1 },
  }).report;
}

const feature = (r: DriftReport, name: string) => r.features.find((f) => f.name === name)!;

describe('drift decision rules', () => {
  it('is healthy when both sides come from the same distribution', () => {
    const make = { a: normal, b: (r: () => number) => Math.floor(r() * 5), c: (r: () => number) => (r() < 0.3 ? 1 : 0) };
    const report = compare(dataset(5000, 1, make), dataset(3000, 2, make));
    expect(report.status).toBe('healthy');
    expect(report.summary).toMatchObject({ healthy: 3, warning: 0, critical: 0 });
    expect(report.score).toBe(0);
    for (const f of report.features) expect(f.psi!).toBeLessThan(0.02);
  });

  it('flags a large shift as critical, with BH-adjusted p-values that are never below the raw ones', () => {
    const ref = dataset(5000, 3, { moved: normal, still: normal });
    const cur = dataset(2000, 4, { moved: (r) => normal(r) + 1, still: normal });
    const report = compare(ref, cur);
    const moved = feature(report, 'moved');
    expect(moved.status).toBe('critical');
    expect(moved.psi!).toBeGreaterThan(0.2);
    expect(moved.ks.pvalue_adjusted!).toBeGreaterThanOrEqual(moved.ks.pvalue!);
    expect(feature(report, 'still').status).toBe('healthy');
    expect(report.summary.drifted).toEqual(['moved']);
    // One of two features critical: 50 % ≥ 10 % → critical.
    expect(report.status).toBe('critical');
  });

  it('sees values below every reference value: a constant or binary feature that moves down drifts', () => {
    // The frozen decile bins put such values in bin 0 with the reference's lowest decile, which for these features is
    // most of the reference: without the bin below the reference minimum PSI stayed 0 while D was 0.5 to 1.
    const ref = dataset(2000, 11, { constant: () => 0, binary: (r) => (r() < 0.5 ? 0 : 1), still: normal });
    const cur = dataset(2000, 12, { constant: () => -5, binary: (r) => (r() < 0.5 ? -1 : 1), still: normal });
    const report = compare(ref, cur);
    expect(feature(report, 'constant')).toMatchObject({ status: 'critical', ks: { statistic: 1 } });
    expect(feature(report, 'constant').psi!).toBeGreaterThan(5);
    expect(feature(report, 'binary').status).toBe('critical');
    expect(feature(report, 'binary').bins.current[0]).toBeGreaterThan(0.4); // the "< min" bin
    expect(feature(report, 'binary').bins.reference[0]).toBe(0);
    expect(feature(report, 'still').status).toBe('healthy');
  });

  it('does not alarm on a tiny shift in a huge window (significant, but PSI is small)', () => {
    const ref = dataset(10_000, 5, { x: normal });
    const cur = dataset(200_000, 6, { x: (r) => normal(r) + 0.1 });
    const f = feature(compare(ref, cur), 'x');
    expect(f.ks.pvalue!).toBeLessThan(1e-6);
    expect(f.psi!).toBeLessThan(0.1);
    expect(f.status).toBe('healthy');
  });

  it('does not alarm on a large PSI that is not significant (small window of a discrete feature)', () => {
    const ref = dataset(5000, 7, { rare: (r) => (r() < 0.02 ? 1 : 0) });
    // 120 rows with 12 ones (10 % against 2 %): PSI is large on the rare bin, but KS cannot tell with so few rows.
    const cur = dataset(120, 8, { rare: (_r, i) => (i < 12 ? 1 : 0) });
    const f = feature(compare(ref, cur), 'rare');
    expect(f.psi!).toBeGreaterThan(0.1);
    expect(f.ks.pvalue_adjusted!).toBeGreaterThan(0.05);
    expect(f.status).toBe('healthy');
  });

  it('says insufficient_data below the minimum, for the features and the run', () => {
    const report = compare(dataset(2000, 9, { x: normal }), dataset(50, 10, { x: (r) => normal(r) + 3 }));
    expect(report.status).toBe('insufficient_data');
    expect(report.score).toBeNull();
    expect(feature(report, 'x').status).toBe('insufficient_data');
    expect(feature(report, 'x').psi!).toBeGreaterThan(1); // still computed and reported
  });

  it('counts NaN and infinities instead of dropping them silently, and judges the finite values', () => {
    const cur = dataset(1000, 12, {
      x: (r, i) => (i % 10 === 0 ? Number.NaN : i % 25 === 1 ? Infinity : i % 50 === 2 ? -Infinity : normal(r)),
    });
    const f = feature(compare(dataset(2000, 11, { x: normal }), cur), 'x');
    expect(f.non_finite).toEqual({ nan: 100, pos_inf: 40, neg_inf: 20 });
    expect(f.rows).toMatchObject({ current: 1000, current_finite: 840 });
    expect(f.bins.current_counts.reduce((a, b) => a + b, 0)).toBe(840);
    expect(f.status).toBe('healthy');
  });

  it('reports the prediction distribution and lets it decide the run', () => {
    const ref = dataset(3000, 13, { x: normal, probability: (r) => r() * 0.5 });
    const cur = dataset(3000, 14, { x: normal, probability: (r) => 0.3 + r() * 0.7 });
    const report = compare(ref, cur);
    expect(report.prediction!.status).toBe('critical');
    expect(report.features.map((f) => f.name)).toEqual(['x']);
    expect(report.status).toBe('critical');
    expect(compare(dataset(3000, 13, { x: normal }), dataset(3000, 14, { x: normal })).prediction).toBeNull();
  });

  it('is a warning, not critical, when few features drift', () => {
    const names = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const make = Object.fromEntries(names.map((n) => [n, normal]));
    const cur = dataset(4000, 16, { ...make, f0: (r) => normal(r) + 1 });
    const report = compare(dataset(4000, 15, make), cur);
    expect(report.summary.critical).toBe(1);
    expect(report.status).toBe('warning'); // 1 of 20 = 5 % < 10 %
    expect(report.score!).toBeGreaterThan(0);
  });

  it('caps each feature in the score, so one feature with a constant reference cannot make the run critical', () => {
    const names = Array.from({ length: 20 }, (_, i) => `f${i}`);
    const make = Object.fromEntries(names.map((n) => [n, normal]));
    const ref = dataset(3000, 17, { ...make, constant: () => 0 });
    const cur = dataset(3000, 18, { ...make, constant: (r) => (r() < 0.8 ? 1 : 0) });
    const report = compare(ref, cur);
    expect(feature(report, 'constant').psi!).toBeGreaterThan(5);
    expect(report.summary.drifted).toEqual(['constant']);
    expect(report.score!).toBeCloseTo(1 / 21, 10);
    expect(report.status).toBe('warning');
  });
});
