// `npm run bench:drift [-- --rows 1000000 --features 50 --reference 10000 --runs 3 --no-scipy]`
//
// PSI + KS for every feature of a drift window, the way the drift run computes them: mergeable counts against the
// baseline's frozen PSI edges and sorted reference sample (one binary search per value, no sort of the window, memory
// bounded by one column), then D and the SciPy-exact p-value from the counts. Beside it, in the same run, SciPy's
// own `ks_2samp(reference_sample, current)` on the same data (written to a temp file, timed by
// tools/scripts/scipy/ks_bench.py when python3 with SciPy is present), the ratio, and a check that both sides got the
// same D (bit for bit) and p (1e-9 absolute / 1e-6 relative) on every feature.
//
// Data: 50 features of five kinds (continuous, small counts with many ties, binary, values rounded to 0.01, uniform),
// float32 like the model's inputs; every seventh feature drifts. Figures are medians over --runs runs of the total
// over all features, wall clock and CPU time of the process (CPU time is the steadier figure here: the machine is
// shared, 2 cores and other engineers' tests, so wall times move by tens of percent between runs).
import { median } from 'simple-statistics';
import { positiveOption } from './options';
import { parseCliArgs, runCli } from '../cli/cliArgs';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildBaseline } from '../../shared/drift/baseline';
import { mulberry32 } from '../../shared/platform/random';
import { ks2samp } from '../../shared/drift/statistics/ks';
import { addValues, createPartialCounts, finalizeDistribution } from '../../shared/drift/statistics/partialCounts';
import { benjaminiHochberg } from '../../shared/drift/statistics/multipleTesting';

const USAGE = `usage: npm run bench:drift [-- options]
  --rows <N>       current rows per feature, a positive integer (default 1000000)
  --features <N>   features, a positive integer (default 50)
  --reference <N>  reference (baseline sample) rows, a positive integer (default 10000)
  --runs <N>       runs, a positive integer (default 3)
  --no-scipy       skip the SciPy comparison`;

/** Fills `out` with feature j's values (float32), reference or current window. */
function generate(j: number, current: boolean, out: Float32Array): void {
  const random = mulberry32((j + 1) * 7919 + (current ? 1 : 0));
  const drift = current && j % 7 === 0 ? 1 : 0;
  for (let i = 0; i < out.length; i++) {
    const u = random();
    switch (j % 5) {
      case 0: // continuous, bell-shaped
        out[i] = u + random() + random() + random() - 2 + 0.3 * drift;
        break;
      case 1: // small counts: heavy ties
        out[i] = Math.floor(u * (8 + 3 * drift));
        break;
      case 2: // binary
        out[i] = u < 0.3 + 0.1 * drift ? 1 : 0;
        break;
      case 3: // rounded to 0.01: ties everywhere
        out[i] = Math.round(u * (1 + 0.2 * drift) * 100) / 100;
        break;
      default: // uniform
        out[i] = drift ? u ** 1.2 : u;
    }
  }
}

function main(argv: string[]): void {
  const { values } = parseCliArgs(argv, {
    rows: { type: 'string' },
    features: { type: 'string' },
    reference: { type: 'string' },
    runs: { type: 'string' },
    'no-scipy': { type: 'boolean', default: false },
  });
  const ROWS = positiveOption('rows', values.rows, 1_000_000);
  const FEATURES = positiveOption('features', values.features, 50);
  const REFERENCE = positiveOption('reference', values.reference, 10_000);
  const RUNS = positiveOption('runs', values.runs, 3);
  const WITH_SCIPY = !values['no-scipy'];
  console.log(
    `bench:drift: ${ROWS.toLocaleString('en')} current rows × ${FEATURES} features vs ${REFERENCE.toLocaleString('en')} reference rows, ${RUNS} runs`,
  );
  const names = Array.from({ length: FEATURES }, (_, j) => `f${String(j).padStart(2, '0')}`);
  const refColumns = names.map((_, j) => {
    const col = new Float32Array(REFERENCE);
    generate(j, false, col);
    return col;
  });
  const refRows = Array.from({ length: REFERENCE }, (_, i) => Float32Array.from(refColumns, (c) => c[i]));
  const baseline = buildBaseline({
    modelName: 'bench',
    modelVersion: '1',
    featureNames: names,
    rows: refRows,
    probabilities: new Float32Array(REFERENCE).fill(0.5),
    sampleSize: REFERENCE,
    createdAt: '2026-01-01T00:00:00Z',
  });
  console.log('baseline built');

  const dataFile = path.join(os.tmpdir(), `bench-drift-${process.pid}.bin`);
  const fd = WITH_SCIPY ? fs.openSync(dataFile, 'w') : -1;
  const column = new Float32Array(ROWS);
  const totals: number[] = [];
  const cpuTotals: number[] = [];
  let ours: { statistic: number; pvalue: number; psi: number }[] = [];
  for (let run = 0; run < RUNS; run++) {
    let total = 0;
    let cpu = 0;
    const results: { statistic: number; pvalue: number; psi: number }[] = [];
    for (let j = 0; j < FEATURES; j++) {
      generate(j, true, column);
      if (run === 0 && fd >= 0) {
        fs.writeSync(fd, new Uint8Array(Float64Array.from(baseline.features[j].sample).buffer));
        fs.writeSync(fd, new Uint8Array(column.buffer));
      }
      const t = performance.now();
      const c = process.cpuUsage();
      const partial = createPartialCounts(baseline);
      addValues(baseline, partial, j, column);
      const r = finalizeDistribution(baseline.features[j], partial, j);
      total += performance.now() - t;
      const used = process.cpuUsage(c);
      cpu += (used.user + used.system) / 1000;
      results.push({ statistic: r.ks!.statistic, pvalue: r.ks!.pvalue, psi: r.psi! });
    }
    const t = performance.now();
    benjaminiHochberg(results.map((r) => r.pvalue));
    total += performance.now() - t;
    totals.push(total / 1000);
    cpuTotals.push(cpu / 1000);
    ours = results;
    console.log(
      `ts run ${run + 1}/${RUNS}: PSI + KS for ${FEATURES} features ${(total / 1000).toFixed(2)} s wall, ${(cpu / 1000).toFixed(2)} s CPU`,
    );
  }
  if (fd >= 0) fs.closeSync(fd);

  // The direct path (sort each window, merge-walk): what one would write without the counts.
  const t0 = performance.now();
  for (let j = 0; j < Math.min(FEATURES, 10); j++) {
    generate(j, true, column);
    ks2samp(baseline.features[j].sample, column);
  }
  const sortPerFeature = (performance.now() - t0) / 1000 / Math.min(FEATURES, 10);

  const drifted = ours.filter((r) => r.psi > 0.2).length;
  const tsMedian = median(totals);
  const tsCpuMedian = median(cpuTotals);
  console.log('');
  console.log(
    `TypeScript PSI + KS (counts path), all ${FEATURES} features: median ${tsMedian.toFixed(2)} s (${((tsMedian / FEATURES) * 1000).toFixed(0)} ms per feature; runs ${totals.map((x) => x.toFixed(2)).join(', ')}); CPU ${tsCpuMedian.toFixed(2)} s`,
  );
  console.log(`TypeScript KS by sorting each window (ks2samp), for comparison: ${(sortPerFeature * 1000).toFixed(0)} ms per feature`);
  console.log(`features with PSI > 0.2: ${drifted} of ${FEATURES}`);

  if (!WITH_SCIPY) return;
  const py = spawnSync(
    'python3',
    [
      path.join(__dirname, '..', '..', '..', 'tools', 'scripts', 'scipy', 'ks_bench.py'),
      dataFile,
      String(FEATURES),
      String(REFERENCE),
      String(ROWS),
      String(RUNS),
    ],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  fs.rmSync(dataFile, { force: true });
  if (py.status !== 0 || !py.stdout) {
    console.log(`SciPy comparison skipped: python3 with SciPy not available (${py.error?.message ?? `exit ${py.status}`})`);
    return;
  }
  const sp = JSON.parse(py.stdout) as {
    scipy: string;
    totalsSeconds: number[];
    cpuSeconds: number[];
    statistics: number[];
    pvalues: number[];
  };
  const spMedian = median(sp.totalsSeconds);
  const spCpuMedian = median(sp.cpuSeconds);
  const sameD = sp.statistics.filter((d, j) => d === ours[j].statistic).length;
  const closeP = sp.pvalues.filter((p, j) => {
    const diff = Math.abs(p - ours[j].pvalue);
    return diff <= 1e-9 || diff <= 1e-6 * Math.abs(p);
  }).length;
  console.log(
    `SciPy ${sp.scipy} ks_2samp (KS only), all ${FEATURES} features: median ${spMedian.toFixed(2)} s (runs ${sp.totalsSeconds.map((x) => x.toFixed(2)).join(', ')}); CPU ${spCpuMedian.toFixed(2)} s`,
  );
  console.log(
    `ratio SciPy / TypeScript: ${(spMedian / tsMedian).toFixed(2)}× wall, ${(spCpuMedian / tsCpuMedian).toFixed(2)}× CPU (TypeScript includes PSI)`,
  );
  console.log(`agreement: D identical on ${sameD}/${FEATURES} features, p within tolerance on ${closeP}/${FEATURES}`);
}

runCli('bench:drift', main, USAGE);
