// `npm run bench:compaction [-- --rows 1000000 --blob-rows 2000 --runs 1 --compare 200000]`
//
// Starts a private Azurite, writes N synthetic inference records of one closed hour as raw blobs through the
// gateway's logger, then compacts the hour in a child process (so its peak RSS is the compaction's alone, DuckDB's
// native memory included) and prints rows/s (wall and per CPU second) and peak RSS. With --compare N it also writes
// N rows × 61 columns from memory with each candidate Parquet library, one child process each, for the choice
// recorded in docs/logs.md.
//
// The machine is shared (2 cores, other engineers' tests): Azurite competes with the compactor for CPU, so the
// wall figure is pessimistic; rows per CPU second of the compactor process is the steadier figure.
import { median } from 'simple-statistics';
import { positiveOption } from './options';
import { parseChoice, parseCliArgs, runCli } from '../cli/cliArgs';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, startAzurite } from '../devhost/azurite';
import { CONTAINERS } from '../../shared/platform/blobLayout';
import { getContainerClient } from '../../shared/platform/blobStorage';
import { FEATURE_NAMES } from '../../shared/serving/features/featureList';
import { compactionOptionsFromConfig, compactPartition, HourPartition } from '../../shared/logs/compaction';
import { readPartition } from '../../shared/logs/windowReader';
import { blobBatchUploader, InferenceLogger, newWriterId } from '../../shared/logs/inferenceLogger';
import { FlatLogRow, toFlatRow } from '../../shared/logs/logSchema';
import { closeParquetEngine, parquetFileInfo, writeParquetFromRawFiles } from '../../shared/logs/parquet';
import { rawBatchBody, serializeRow } from '../../shared/logs/rawLogFormat';
import { syntheticRecords } from './syntheticRecords';

const PARTITION: HourPartition = { env: 'production', date: '2026-01-15', hour: '10' };

const USAGE = `usage: npm run bench:compaction [-- options]
  --rows <N>       synthetic inference records of the hour, a positive integer (default 1000000)
  --blob-rows <N>  records per raw blob, a positive integer (default 2000)
  --runs <N>       runs, a positive integer (default 1)
  --compare <N>    also write N rows with each candidate Parquet library (default: no comparison)`;

/** The child modes (`--child MODE`, internal): the compaction, the window reader, or one Parquet library. */
const CHILD_MODES = ['compact', 'read', 'duckdb', 'hyparquet-writer', 'parquetjs-lite'] as const;

const mb = (kb: number) => Math.round(kb / 1024);

interface ChildReport {
  rows: number;
  seconds: number;
  cpuSeconds: number;
  peakRssMb: number;
  /** RSS when the measured work started (the input rows already in memory for --compare). */
  startRssMb: number;
  detail?: string;
}

/** Run this script in `mode` in a child process and return the JSON line it prints last. */
function runChild(mode: string, extraArgs: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    // Pinned to one core where taskset exists, so "rows/s on one core" is literal (Azurite runs elsewhere).
    const argv = [process.execPath, __filename, '--child', mode, ...extraArgs];
    const [cmd, ...args] = fs.existsSync('/usr/bin/taskset') ? ['/usr/bin/taskset', '-c', '0', ...argv] : argv;
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`${mode} child exited with ${code}: ${out}`));
      resolve(JSON.parse(last) as ChildReport);
    });
  });
}

function measure<T>(
  fn: () => Promise<T>,
): Promise<{ value: T; seconds: number; cpuSeconds: number; peakRssMb: number; startRssMb: number }> {
  const startRssMb = Math.round(process.memoryUsage().rss / 1048576);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return fn().then((value) => {
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { value, seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssMb: mb(process.resourceUsage().maxRSS), startRssMb };
  });
}

// ---------------------------------------------------------------------------------------------------------------
// Child modes

async function childCompact(): Promise<ChildReport> {
  const m = await measure(() => compactPartition(PARTITION, compactionOptionsFromConfig({ now: () => new Date('2026-01-16T00:00:00Z') })));
  await closeParquetEngine();
  if (m.value.status !== 'compacted') throw new Error(`compaction did nothing: ${JSON.stringify(m.value)}`);
  return {
    rows: m.value.rows,
    seconds: m.seconds,
    cpuSeconds: m.cpuSeconds,
    peakRssMb: m.peakRssMb,
    startRssMb: m.startRssMb,
    detail: `${m.value.rawBlobs} raw blobs; seconds per step: ${Object.entries(m.value.seconds)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(', ')}`,
  };
}

/** The drift detector's read: 50 features + probability of the compacted hour, row group by row group. */
async function childRead(): Promise<ChildReport> {
  let rows = 0;
  let checksum = 0;
  const m = await measure(async () => {
    const from = new Date(`${PARTITION.date}T${PARTITION.hour}:00:00Z`);
    const to = new Date(from.getTime() + 3600_000);
    for await (const batch of readPartition(PARTITION, from, to, { columns: [...FEATURE_NAMES, 'probability'] })) {
      rows += batch.rowCount;
      for (let i = 0; i < batch.rowCount; i++) checksum += batch.probability![i];
    }
  });
  await closeParquetEngine();
  return {
    rows,
    seconds: m.seconds,
    cpuSeconds: m.cpuSeconds,
    peakRssMb: m.peakRssMb,
    startRssMb: m.startRssMb,
    detail: `sum of probability ${checksum.toFixed(3)}`,
  };
}

function memoryRows(n: number): FlatLogRow[] {
  return [...syntheticRecords(n, { env: 'production', start: new Date('2026-01-15T10:00:00Z'), stepMs: 3, seed: 11, idPrefix: 'c' })].map(
    toFlatRow,
  );
}

/** The part of parquetjs-lite (which ships no typings) that the benchmark uses. */
interface ParquetjsLite {
  ParquetSchema: new (fields: Record<string, unknown>) => object;
  ParquetWriter: {
    openFile(
      schema: object,
      path: string,
      options: { compression: string },
    ): Promise<{
      setRowGroupSize(rows: number): void;
      appendRow(row: object): Promise<void>;
      close(): Promise<void>;
    }>;
  };
}

async function childLibrary(lib: string, n: number): Promise<ChildReport> {
  const rows = memoryRows(n);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-parquet-'));
  const out = path.join(dir, 'out.parquet');
  try {
    const m = await measure(async () => {
      if (lib === 'duckdb') {
        // The project's path: CSV micro-batches on disk → DuckDB → Parquet (the serialization is part of the cost).
        const files: string[] = [];
        for (let i = 0; i < rows.length; i += 2000) {
          const f = path.join(dir, `${i}.csv`);
          fs.writeFileSync(f, rawBatchBody(rows.slice(i, i + 2000).map(serializeRow)));
          files.push(f);
        }
        await writeParquetFromRawFiles(files, out, { rowGroupRows: 100_000 });
      } else if (lib === 'hyparquet-writer') {
        // ESM-only: a dynamic import() (kept as one in this CommonJS build) loads it, with its own typings.
        const { parquetWriteBuffer } = await import('hyparquet-writer');
        const columnData = [
          { name: 'time', data: rows.map((r) => new Date(r.time)), type: 'TIMESTAMP' as const },
          ...(['request_id', 'environment', 'model_name', 'model_version', 'prediction', 'sender_key'] as const).map((c) => ({
            name: c,
            data: rows.map((r) => r[c]),
            type: 'STRING' as const,
          })),
          ...FEATURE_NAMES.map((f) => ({ name: f, data: Float32Array.from(rows, (r) => r[f]), type: 'FLOAT' as const })),
          { name: 'probability', data: Float64Array.from(rows, (r) => r.probability), type: 'DOUBLE' as const },
          { name: 'latency_ms', data: Float64Array.from(rows, (r) => r.latency_ms), type: 'DOUBLE' as const },
          { name: 'degraded', data: rows.map((r) => r.degraded), type: 'BOOLEAN' as const },
        ];
        fs.writeFileSync(out, Buffer.from(parquetWriteBuffer({ columnData, rowGroupSize: 100_000 })));
      } else if (lib === 'parquetjs-lite') {
        // eslint-disable-next-line @typescript-eslint/no-require-imports -- untyped CommonJS package; loaded only in this child mode
        const parquet = require('parquetjs-lite') as ParquetjsLite;
        const fields: Record<string, unknown> = {
          time: { type: 'TIMESTAMP_MICROS' },
          request_id: { type: 'UTF8' },
          environment: { type: 'UTF8' },
          model_name: { type: 'UTF8' },
          model_version: { type: 'UTF8' },
          prediction: { type: 'UTF8' },
          sender_key: { type: 'UTF8', optional: true },
          probability: { type: 'DOUBLE' },
          latency_ms: { type: 'DOUBLE' },
          degraded: { type: 'BOOLEAN' },
        };
        for (const f of FEATURE_NAMES) fields[f] = { type: 'FLOAT' };
        const writer = await parquet.ParquetWriter.openFile(new parquet.ParquetSchema(fields), out, { compression: 'SNAPPY' });
        writer.setRowGroupSize(100_000);
        for (const r of rows) await writer.appendRow({ ...r, time: new Date(r.time), sender_key: r.sender_key ?? undefined });
        await writer.close();
      } else {
        throw new Error(`unknown library ${lib}`);
      }
    });
    const info = await parquetFileInfo(out).catch((e: Error) => ({ rows: -1, error: e.message }));
    await closeParquetEngine();
    return {
      rows: n,
      seconds: m.seconds,
      cpuSeconds: m.cpuSeconds,
      peakRssMb: m.peakRssMb,
      startRssMb: m.startRssMb,
      detail: `DuckDB reads back ${info.rows} rows; ${Math.round(fs.statSync(out).size / 1e6)} MB`,
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------------------------

async function writeRawBlobs(n: number, blobRows: number): Promise<void> {
  const logger = new InferenceLogger({
    maxBufferedRecords: 100_000,
    maxBatchRecords: blobRows,
    flushIntervalMs: 600_000,
    retryBaseDelayMs: 100,
    retryMaxDelayMs: 2000,
    maxConcurrentUploads: 8,
    writerId: newWriterId(),
    upload: blobBatchUploader,
  });
  const stepMs = Math.max(1, Math.floor(3_599_000 / n));
  const t0 = performance.now();
  let i = 0;
  for (const r of syntheticRecords(n, {
    env: PARTITION.env,
    start: new Date(`${PARTITION.date}T${PARTITION.hour}:00:00Z`),
    stepMs,
    seed: 5,
    idPrefix: 'b',
  })) {
    // The logger's timestamps are millisecond-exact: more than 3.6 M rows in one hour would collide, which is fine.
    logger.log(r);
    if (++i % 50_000 === 0) {
      await logger.flush(600_000);
      process.stdout.write(
        `  wrote ${i.toLocaleString('en')} rows (${Math.round(i / ((performance.now() - t0) / 1000)).toLocaleString('en')} rows/s through the logger)\n`,
      );
    }
  }
  const s = await logger.flush(600_000);
  if (s.written !== n) throw new Error(`logger wrote ${s.written} of ${n} rows`);
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseCliArgs(argv, {
    rows: { type: 'string' },
    'blob-rows': { type: 'string' },
    runs: { type: 'string' },
    compare: { type: 'string' },
    child: { type: 'string' },
  });
  if (values.child !== undefined) {
    const mode = parseChoice('child', values.child, CHILD_MODES);
    const report =
      mode === 'compact'
        ? await childCompact()
        : mode === 'read'
          ? await childRead()
          : await childLibrary(mode, positiveOption('rows', values.rows, 200_000));
    process.stdout.write(`${JSON.stringify(report)}\n`);
    return;
  }

  const rows = positiveOption('rows', values.rows, 1_000_000);
  const blobRows = positiveOption('blob-rows', values['blob-rows'], 2000);
  const runs = positiveOption('runs', values.runs, 1);
  const compareRows = values.compare === undefined ? 0 : positiveOption('compare', values.compare, 200_000);
  console.log(
    `compaction benchmark: ${rows.toLocaleString('en')} rows in blobs of ${blobRows} (${Math.ceil(rows / blobRows)} raw blobs), ${runs} run(s); ${os.cpus().length} CPUs (shared)`,
  );

  const port = await freePort();
  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-azurite-'));
  const azurite = await startAzurite({ port, location });
  process.env.AzureWebJobsStorage = azurite.connectionString;
  try {
    await getContainerClient(CONTAINERS.inferenceLogs).createIfNotExists();
    const reports: ChildReport[] = [];
    for (let run = 1; run <= runs; run++) {
      console.log(`run ${run}: writing raw blobs through the logger...`);
      await writeRawBlobs(rows, blobRows);
      console.log(`run ${run}: compacting in a child process (DuckDB: 1 thread; pinned to CPU 0 when taskset exists)...`);
      const r = await runChild('compact', [], { AzureWebJobsStorage: azurite.connectionString });
      reports.push(r);
      console.log(
        `run ${run}: ${r.rows.toLocaleString('en')} rows in ${r.seconds.toFixed(2)} s = ${Math.round(r.rows / r.seconds).toLocaleString('en')} rows/s wall, ` +
          `${Math.round(r.rows / r.cpuSeconds).toLocaleString('en')} rows per CPU second; peak RSS ${r.peakRssMb} MB (${r.detail})`,
      );
      const read = await runChild('read', [], { AzureWebJobsStorage: azurite.connectionString });
      console.log(
        `run ${run}: window reader, 50 features + probability of the hour: ${read.rows.toLocaleString('en')} rows in ${read.seconds.toFixed(2)} s = ` +
          `${Math.round(read.rows / read.seconds).toLocaleString('en')} rows/s; peak RSS ${read.peakRssMb} MB`,
      );
      // Next run starts from raw again: delete the committed hour.
      for await (const b of getContainerClient(CONTAINERS.inferenceLogs).listBlobsFlat({ prefix: 'parquet/' }))
        await getContainerClient(CONTAINERS.inferenceLogs).deleteBlob(b.name);
    }
    const wall = median(reports.map((r) => r.rows / r.seconds));
    const cpu = median(reports.map((r) => r.rows / r.cpuSeconds));
    const peak = Math.max(...reports.map((r) => r.peakRssMb));
    console.log(
      `\nRESULT compaction of ${rows.toLocaleString('en')} rows: median ${Math.round(wall).toLocaleString('en')} rows/s wall, ${Math.round(cpu).toLocaleString('en')} rows per CPU second, max peak RSS ${peak} MB`,
    );
    console.log(
      `bar: >= 50,000 rows/s on one core → ${wall >= 50_000 ? 'met' : 'NOT met'} (wall); 1,000,000-row hour under 512 MB → ${peak < 512 ? 'met' : 'NOT met'}`,
    );

    if (compareRows) {
      console.log(
        `\nParquet libraries, ${compareRows.toLocaleString('en')} rows × ${FEATURE_NAMES.length + 10} columns from memory, one child process each:`,
      );
      for (const lib of ['duckdb', 'hyparquet-writer', 'parquetjs-lite']) {
        try {
          const r = await runChild(lib, ['--rows', String(compareRows)]);
          console.log(
            `  ${lib.padEnd(17)} ${r.seconds.toFixed(2).padStart(7)} s  ${Math.round(compareRows / r.seconds)
              .toLocaleString('en')
              .padStart(
                9,
              )} rows/s  peak RSS ${String(r.peakRssMb).padStart(5)} MB, ${String(r.startRssMb).padStart(4)} MB before writing  (${r.detail})`,
          );
        } catch (err) {
          console.log(`  ${lib.padEnd(17)} failed: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
  } finally {
    await azurite.stop();
    fs.rmSync(location, { recursive: true, force: true });
  }
}

runCli('bench:compaction', main, USAGE);
