// `npm run drift` in file mode against SciPy: the fixture pairs (test/fixtures/drift-cli/, made by
// tools/scripts/scipy/drift_cli_fixture.py with scipy.stats.ks_2samp on the same files) as CSV, and as NDJSON and Parquet
// copies made here. D must be equal exactly, p within 1e-9 absolute or 1e-6 relative.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCell, readDataset, splitCsvLine } from '../../../tools/cli/driftFiles';
import { compareColumns } from '../../../tools/cli/driftFileComparison';
import { DriftReport } from '../../../shared/drift/report';
import { closeParquetEngine, queryParquet } from '../../../shared/logs/parquet';
import { REPO_ROOT, distPath } from '../../helpers/paths';

const run = promisify(execFile);
const FIXTURES = path.join(REPO_ROOT, 'test', 'fixtures', 'drift-cli');
const CLI = distPath('tools', 'cli', 'drift.js');

interface ScipyColumn {
  statistic: number;
  pvalue: number;
  n_reference: number;
  n_current: number;
  nan: number;
  pos_inf: number;
  neg_inf: number;
}
const scipy = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'scipy.json'), 'utf8')) as {
  cases: Record<string, { reference: string; current: string; columns: Record<string, ScipyColumn> }>;
};

let tmp: string;

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'drift-cli-'));
});

afterAll(async () => {
  await closeParquetEngine();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function expectLikeScipy(report: DriftReport, expected: Record<string, ScipyColumn>) {
  const all = [...report.features, ...(report.prediction ? [report.prediction] : [])];
  expect(all.map((f) => f.name).sort()).toEqual(Object.keys(expected).sort());
  for (const f of all) {
    const e = expected[f.name];
    expect({ name: f.name, d: f.ks.statistic }).toEqual({ name: f.name, d: e.statistic });
    const p = f.ks.pvalue!;
    const ok = Math.abs(p - e.pvalue) <= 1e-9 || Math.abs(p - e.pvalue) <= 1e-6 * Math.abs(e.pvalue);
    if (!ok) throw new Error(`${f.name}: p ${p} vs SciPy ${e.pvalue}`);
    expect(f.rows.current_finite).toBe(e.n_current);
    expect(f.rows.reference_sample).toBe(e.n_reference);
    expect(f.non_finite).toEqual({ nan: e.nan, pos_inf: e.pos_inf, neg_inf: e.neg_inf });
  }
}

/** NDJSON copy of a CSV fixture (null for NaN; infinities as strings, which JSON cannot hold as numbers). */
function toNdjson(csv: string): Promise<string> {
  const [header, ...lines] = fs.readFileSync(csv, 'utf8').trim().split(/\r?\n/);
  const names = splitCsvLine(header);
  const out = path.join(tmp, path.basename(csv).replace('.csv', '.ndjson'));
  fs.writeFileSync(
    out,
    lines
      .map((l) => {
        const cells = splitCsvLine(l);
        return JSON.stringify(
          Object.fromEntries(
            names.map((n, i) => {
              const v = parseCell(cells[i])!;
              return [n, Number.isNaN(v) ? null : Number.isFinite(v) ? v : String(v)];
            }),
          ),
        );
      })
      .join('\n') + '\n',
  );
  return Promise.resolve(out);
}

/** Parquet copy of a CSV fixture, written by DuckDB with DOUBLE columns and an extra text column. */
async function toParquet(csv: string): Promise<string> {
  const out = path.join(tmp, path.basename(csv).replace('.csv', '.parquet'));
  await queryParquet(
    `COPY (SELECT 'row-' || CAST(row_number() OVER () AS VARCHAR) AS request_id, * FROM read_csv('${csv}', header = true, all_varchar = false, ` +
      `columns = {'steady': 'DOUBLE', 'shifted': 'DOUBLE', 'discrete': 'DOUBLE', 'binary': 'DOUBLE', 'with_non_finite': 'DOUBLE', 'probability': 'DOUBLE'})) ` +
      `TO '${out}' (FORMAT parquet)`,
  );
  return out;
}

describe('drift CLI, file mode', () => {
  for (const [name, c] of Object.entries(scipy.cases)) {
    it(`${name}: CSV through the command gives SciPy's D and p, and writes the JSON and HTML reports`, async () => {
      const out = path.join(tmp, `${name}.json`);
      const html = path.join(tmp, `${name}.html`);
      const { stdout } = await run(
        process.execPath,
        [CLI, '--reference', path.join(FIXTURES, c.reference), '--current', path.join(FIXTURES, c.current), '--out', out, '--html', html],
        { cwd: REPO_ROOT },
      );
      expect(stdout).toMatch(/^Drift (HEALTHY|WARNING|CRITICAL) score=/m);
      expect(stdout).toMatch(/^with_non_finite\s+\S+\s/m);
      const report = JSON.parse(fs.readFileSync(out, 'utf8')) as DriftReport;
      expectLikeScipy(report, c.columns);
      expect(report.environment).toBeNull();
      expect(report.features.find((f) => f.name === 'steady')!.status).toBe('healthy');
      expect(report.features.find((f) => f.name === 'discrete')!.status).not.toBe('healthy');
      expect(fs.readFileSync(html, 'utf8')).toContain('<svg');
    });

    it(`${name}: NDJSON and Parquet copies give the same result as the CSV`, async () => {
      for (const convert of [toNdjson, toParquet]) {
        const ref = await readDataset(await convert(path.join(FIXTURES, c.reference)));
        const cur = await readDataset(await convert(path.join(FIXTURES, c.current)));
        if (convert === toParquet) expect(ref.skipped).toEqual(['request_id']);
        const { report } = compareColumns(
          { source: ref.file, columns: ref.columns, rows: ref.rows },
          { source: cur.file, columns: cur.columns, rows: cur.rows },
          { runId: 't', createdAt: new Date() },
        );
        expectLikeScipy(report, c.columns);
      }
    });
  }

  it('fails with a clear message on bad input', async () => {
    const bad = path.join(tmp, 'bad.csv');
    fs.writeFileSync(bad, 'a,b\n1,2\n3\n');
    await expect(run(process.execPath, [CLI, '--reference', bad, '--current', bad], { cwd: REPO_ROOT })).rejects.toMatchObject({
      code: 1,
      stderr: expect.stringContaining('bad.csv:3: 1 cells, the header has 2'),
    });
    await expect(run(process.execPath, [CLI, '--reference', bad], { cwd: REPO_ROOT })).rejects.toMatchObject({
      stderr: expect.stringContaining('--reference and --current go together'),
    });
  });

  it('parses cells as numpy does', () => {
    expect(parseCell('1.5e-3')).toBe(0.0015);
    expect(parseCell('nan')).toBeNaN();
    expect(parseCell('')).toBeNaN();
    expect(parseCell('-inf')).toBe(-Infinity);
    expect(parseCell('Infinity')).toBe(Infinity);
    expect(parseCell('abc')).toBeUndefined();
    expect(splitCsvLine('a,"b,c","d""e"')).toEqual(['a', 'b,c', 'd"e']);
  });
});
