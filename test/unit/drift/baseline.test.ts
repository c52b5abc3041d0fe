import {
  BASELINE_SCHEMA_VERSION,
  InvalidBaselineError,
  buildBaseline,
  serializeBaseline,
  validateBaseline,
  type Baseline,
} from '../../../shared/drift/baseline';
import { mulberry32 } from '../../../shared/platform/random';

const NAMES = ['continuous', 'binary', 'constant', 'withNonFinite'];

/** 1,000 rows: a uniform feature, a 70/30 binary one, a constant one, and one with NaN and ±Infinity. */
function referenceRows(n = 1000): { rows: number[][]; probabilities: number[] } {
  const random = mulberry32(42);
  const rows: number[][] = [];
  const probabilities: number[] = [];
  for (let i = 0; i < n; i++) {
    const special = i % 100 === 0 ? Number.NaN : i % 100 === 1 ? Infinity : i % 100 === 2 ? -Infinity : i;
    rows.push([random(), i % 10 < 7 ? 0 : 1, 3.5, special]);
    probabilities.push(Math.fround(random()));
  }
  return { rows, probabilities };
}

function build(overrides: Partial<Parameters<typeof buildBaseline>[0]> = {}): Baseline {
  const { rows, probabilities } = referenceRows();
  return buildBaseline({
    modelName: 'spam-detector',
    modelVersion: '3',
    featureNames: NAMES,
    rows,
    probabilities,
    sampleSize: 200,
    seed: 7,
    createdAt: '2026-11-26T05:00:00Z',
    ...overrides,
  });
}

function expectIssues(json: unknown, ...fragments: string[]): InvalidBaselineError {
  try {
    validateBaseline(json);
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidBaselineError);
    const e = err as InvalidBaselineError;
    for (const f of fragments) expect(e.issues.join('\n')).toContain(f);
    expect(e.status).toBe(400);
    expect(e.code).toBe('invalid_baseline');
    return e;
  }
  throw new Error('validateBaseline accepted an invalid baseline');
}

describe('buildBaseline', () => {
  it('is deterministic: same input, byte-identical JSON, whatever the row type', () => {
    const a = serializeBaseline(build());
    const b = serializeBaseline(build());
    expect(a).toBe(b);
    const { rows, probabilities } = referenceRows();
    // Float32 rows of values that are exact in float32 give the same baseline.
    const exactRows = rows.map((r) => r.map((v) => (Number.isFinite(v) ? Math.fround(v) : v)));
    const fromNumbers = buildBaseline({
      modelName: 'm',
      modelVersion: '1',
      featureNames: NAMES,
      rows: exactRows,
      probabilities,
      seed: 1,
      createdAt: new Date(0),
    });
    const fromFloat32 = buildBaseline({
      modelName: 'm',
      modelVersion: '1',
      featureNames: NAMES,
      rows: exactRows.map((r) => Float32Array.from(r)),
      probabilities: Float32Array.from(probabilities),
      seed: 1,
      createdAt: new Date(0),
    });
    expect(serializeBaseline(fromFloat32)).toBe(serializeBaseline(fromNumbers));
    expect(fromNumbers.createdAt).toBe('1970-01-01T00:00:00.000Z');
  });

  it('records the schema version, model, sampling and summary statistics', () => {
    const b = build();
    expect(b.schemaVersion).toBe(BASELINE_SCHEMA_VERSION);
    expect(b.model).toEqual({ name: 'spam-detector', version: '3' });
    expect(b.sampling).toEqual({ method: 'uniform-rows-without-replacement', seed: 7, sampleSize: 200, referenceRows: 1000 });
    const binary = b.features[1];
    expect(binary.count).toBe(1000);
    expect(binary.mean).toBeCloseTo(0.3, 15);
    expect(binary.std).toBeCloseTo(Math.sqrt(0.21), 13); // population std (ddof = 0)
    expect([binary.min, binary.max]).toEqual([0, 1]);
  });

  it('uses deciles as edges for a continuous feature: ten bins of about 10 % each', () => {
    const f = build().features[0];
    expect(f.psi.edges).toHaveLength(9);
    expect(f.psi.counts).toHaveLength(10);
    expect(f.psi.counts.slice(1, 9).every((c) => c === 100)).toBe(true);
    expect(f.psi.counts.reduce((a, c) => a + c, 0)).toBe(1000);
    expect(f.psi.proportions[0]).toBe(f.psi.counts[0] / 1000);
  });

  it('dedupes coinciding deciles of discrete and constant features (right-closed bins)', () => {
    const b = build();
    expect(b.features[1].psi).toEqual({ edges: [0, 1], counts: [700, 300, 0], proportions: [0.7, 0.3, 0] });
    expect(b.features[2].psi).toEqual({ edges: [3.5], counts: [1000, 0], proportions: [1, 0] });
    expect(b.features[2].std).toBe(0);
  });

  it('counts NaN and ±Infinity and keeps them out of the statistics', () => {
    const f = build().features[3];
    expect(f.rows).toBe(1000);
    expect(f.nonFinite).toEqual({ nan: 10, posInf: 10, negInf: 10 });
    expect(f.count).toBe(970);
    expect(f.sample.every(Number.isFinite)).toBe(true);
    expect(f.min).toBe(3);
    expect(f.max).toBe(999);
  });

  it('keeps a bounded, sorted, seeded sample drawn from the same rows for every feature', () => {
    const b = build();
    const { rows } = referenceRows();
    for (const f of [...b.features.slice(0, 3), b.prediction]) {
      expect(f.sample).toHaveLength(200);
      expect([...f.sample].sort((x, y) => x - y)).toEqual(f.sample);
    }
    // The same rows: every sampled continuous value belongs to a row whose id (feature 3) is in that feature's sample
    // (or is non-finite, which the sample drops).
    const idSample = new Set(b.features[3].sample);
    const rowOf = new Map(rows.map((r) => [r[0], r]));
    for (const v of b.features[0].sample) {
      const row = rowOf.get(v)!;
      expect(Number.isFinite(row[3]) ? idSample.has(row[3]) : true).toBe(true);
    }
    expect(build({ seed: 8 }).features[0].sample).not.toEqual(b.features[0].sample);
    const all = build({ sampleSize: 5000 });
    expect(all.features[0].sample).toHaveLength(1000);
    expect(all.features[3].sample).toHaveLength(970);
  });

  it('rejects malformed input', () => {
    expect(() => build({ rows: [[1, 2, 3]], probabilities: [0.5] })).toThrow(/row 0 has 3 values, expected 4/);
    expect(() => build({ probabilities: [0.5] })).toThrow(/probabilities has 1 values for 1000 rows/);
    expect(() => build({ sampleSize: 0 })).toThrow(/sampleSize/);
    const nanRows = referenceRows().rows.map((r) => [r[0], r[1], r[2], Number.NaN]);
    expect(() => build({ rows: nanRows })).toThrow(/withNonFinite: no finite reference value/);
  });
});

describe('validateBaseline', () => {
  it('accepts a built baseline after a JSON round trip, from text or parsed JSON', () => {
    const b = build();
    const text = serializeBaseline(b);
    expect(validateBaseline(text)).toEqual(b);
    expect(validateBaseline(JSON.parse(text), NAMES)).toEqual(b);
  });

  it('lists every problem it finds', () => {
    const bad = JSON.parse(serializeBaseline(build()));
    bad.schemaVersion = 2;
    bad.features[0].sample[5] = 99;
    bad.features[3].sample.push(5000);
    bad.features[1].psi.edges = [1, 0];
    bad.features[2].psi.counts = [1000];
    delete bad.prediction.mean;
    const e = expectIssues(
      bad,
      'schemaVersion',
      'features.0.sample.6: the sample must be sorted ascending',
      'features.3.sample: sample values must lie within [min, max]',
      'features.1.psi.edges.1: edges must be strictly increasing',
      'features.2.psi.counts: needs edges.length + 1 = 2 entries, has 1',
      'prediction.mean',
    );
    expect(e.issues.length).toBeGreaterThanOrEqual(5);
    expect(e.message).toMatch(/^Invalid baseline: /);
  });

  it('rejects non-JSON, wrong feature lists, inconsistent counts and oversize samples', () => {
    expectIssues('{not json', 'not JSON');
    expectIssues([], '(root)');
    const b = build();
    expect(() => validateBaseline(b, ['continuous', 'binary', 'constant'])).toThrow(InvalidBaselineError);
    const wrongCount = JSON.parse(serializeBaseline(b));
    wrongCount.features[0].count = 999;
    expectIssues(wrongCount, 'features.0.rows', 'sum of counts (1000) must equal count (999)');
    const big = JSON.parse(serializeBaseline(b));
    big.sampling.sampleSize = 100;
    expectIssues(big, 'more than sampling.sampleSize');
    const dup = JSON.parse(serializeBaseline(b));
    dup.features[1].name = 'continuous';
    expectIssues(dup, 'duplicate feature name continuous');
    const inf = JSON.parse(serializeBaseline(b).replace('"max":1,', '"max":"Infinity",'));
    expectIssues(inf, 'max');
  });
});
