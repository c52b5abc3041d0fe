// `npm run bench:drift-run [-- --hours 24 --rows 20000 --concurrent 10]`
//
// What an on-demand drift check costs the local host that runs it (`npm start`, WORKFLOW_BACKEND=in-process): a
// private Azurite gets `--hours` hours of synthetic production logs (`--rows` rows an hour, compacted to Parquet as
// the compactor does) and the committed model's baseline, then the host (`node dist/tools/cli/start.js`, a child
// process) is asked for
//   1. one `POST /api/drift/run`, while `GET /api/health` is called back to back: the run's time and the health
//      answers' latency (median, p99, max) during it, against the same figures with the host idle;
//   2. `--concurrent` identical requests at once: the time until every caller has its answer and every run is done,
//      the health latency meanwhile, the host's CPU time and peak RSS, and how many runs the host started.
// Phase 1 asks for one hour more than phase 2, so that phase 2 is a run of its own, not phase 1's finished one.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { median, quantile } from 'simple-statistics';
import { positiveOption } from './options';
import { syntheticRecords, writeLogRecords } from './syntheticRecords';
import { parseCliArgs, runCli } from '../cli/cliArgs';
import { freePort, startAzurite } from '../devhost/azurite';
import { baselinePath, CONTAINERS, hourPartition } from '../../shared/platform/blobLayout';
import { ensureContainers } from '../../shared/platform/blobStorage';
import { activateBaselineUpload, markActivationChecked } from '../../shared/drift/activeBaseline';
import { baselineFile, COMMITTED_MODEL_VERSION, MODEL_NAME, publishCommittedModel } from '../../shared/model/modelArtifacts';
import { compactionOptionsFromConfig, compactPartition } from '../../shared/logs/compaction';
import { closeParquetEngine } from '../../shared/logs/parquet';
import { projectRoot } from '../../shared/platform/projectRoot';

const USAGE = `usage: npm run bench:drift-run [-- options]
  --hours <N>       hours of logs in the window, a positive integer (default 24)
  --rows <N>        rows per hour, a positive integer (default 20000)
  --concurrent <N>  identical requests sent at once in phase 2, a positive integer (default 10)`;

const HOUR = 3600_000;

interface Latencies {
  count: number;
  medianMs: number;
  p99Ms: number;
  maxMs: number;
}

function summarize(values: number[]): Latencies {
  if (!values.length) return { count: 0, medianMs: NaN, p99Ms: NaN, maxMs: NaN };
  return { count: values.length, medianMs: median(values), p99Ms: quantile(values, 0.99), maxMs: Math.max(...values) };
}

const show = (l: Latencies) =>
  `${l.count} answers, median ${l.medianMs.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms, max ${l.maxMs.toFixed(1)} ms`;

/** `GET /api/health` back to back until `stop` resolves; the latency of each answer. */
async function probeHealth(url: string, stop: Promise<unknown>): Promise<number[]> {
  let done = false;
  void stop.finally(() => (done = true));
  const out: number[] = [];
  while (!done) {
    const t = performance.now();
    const res = await fetch(`${url}/health`);
    await res.arrayBuffer();
    out.push(performance.now() - t);
    await new Promise((r) => setTimeout(r, 20));
  }
  return out;
}

/** Resident set size of a process now, MB (Linux; 0 elsewhere). */
function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : 0;
  } catch {
    return 0;
  }
}

/** CPU time a process has used so far, seconds (Linux; 0 elsewhere). */
function cpuSeconds(pid: number): number {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return 0;
  }
}

/** One drift/run request followed to its end (202: through its Location; 200: it was done already). */
async function driftRun(url: string, hours: number): Promise<{ status: number; id: string; rows?: number }> {
  const res = await fetch(`${url}/drift/run?env=production&hours=${hours}`, { method: 'POST' });
  const body = (await res.json()) as { id: string; record?: { rows?: number } };
  const location = res.headers.get('location');
  if (res.status === 200) return { status: 200, id: body.id, rows: body.record?.rows };
  if (res.status !== 202 || !location) throw new Error(`drift/run answered ${res.status}: ${JSON.stringify(body)}`);
  for (;;) {
    const s = (await (await fetch(location)).json()) as { runtimeStatus?: string; record?: { rows?: number } };
    if (s.runtimeStatus !== 'Running' && s.runtimeStatus !== 'Pending') return { status: 202, id: body.id, rows: s.record?.rows };
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function seed(hours: number, rowsPerHour: number, now: number): Promise<void> {
  await ensureContainers(Object.values(CONTAINERS));
  await publishCommittedModel();
  // Active and checked before the host starts, so its blob trigger finds nothing to do and runs no check of its own.
  const content = fs.readFileSync(baselineFile(COMMITTED_MODEL_VERSION));
  const activation = await activateBaselineUpload(baselinePath(MODEL_NAME, COMMITTED_MODEL_VERSION), content, new Date());
  if (activation.outcome === 'rejected') throw new Error(`committed baseline rejected: ${activation.issues.join('; ')}`);
  await markActivationChecked(MODEL_NAME, COMMITTED_MODEL_VERSION, activation.record.sha256, new Date());
  const first = Math.floor(now / HOUR) * HOUR - hours * HOUR;
  for (let h = 0; h < hours; h++) {
    const start = new Date(first + h * HOUR);
    const records = syntheticRecords(rowsPerHour, {
      env: 'production',
      start,
      stepMs: Math.floor(HOUR / rowsPerHour),
      seed: h + 1,
      idPrefix: `b${h}`,
    });
    await writeLogRecords(
      (function* () {
        for (const r of records) yield { ...r, model_version: COMMITTED_MODEL_VERSION };
      })(),
      1000,
    );
    const { date, hour } = hourPartition(start);
    await compactPartition(
      { env: 'production', date, hour },
      compactionOptionsFromConfig({ now: () => new Date(start.getTime() + 2 * HOUR) }),
    );
  }
  await closeParquetEngine();
}

async function startHost(env: Record<string, string>): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const child = spawn(process.execPath, [path.join(projectRoot(), 'dist', 'tools', 'cli', 'start.js')], {
    cwd: projectRoot(),
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start:\n${output}`)), 60_000);
    child.stdout.on('data', () => {
      const m = /Host listening on (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace('localhost', '127.0.0.1'));
      }
    });
    child.once('exit', (code) => reject(new Error(`host exited with ${code}:\n${output}`)));
  });
  return {
    url,
    child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.kill('SIGINT');
        setTimeout(() => child.kill('SIGKILL'), 60_000).unref();
      }),
  };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseCliArgs(argv, { hours: { type: 'string' }, rows: { type: 'string' }, concurrent: { type: 'string' } });
  const hours = positiveOption('hours', values.hours, 24);
  const rows = positiveOption('rows', values.rows, 20_000);
  const concurrent = positiveOption('concurrent', values.concurrent, 10);
  console.log(`bench:drift-run: ${hours} h × ${rows.toLocaleString('en')} rows of production logs; ${os.cpus().length} CPUs (shared)`);

  const port = await freePort();
  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-azurite-'));
  const stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-stack-'));
  const azurite = await startAzurite({ port, location });
  process.env.AzureWebJobsStorage = azurite.connectionString;
  let host: Awaited<ReturnType<typeof startHost>> | undefined;
  try {
    let t = performance.now();
    await seed(hours, rows, Date.now());
    console.log(`seeded in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    host = await startHost({
      AzureWebJobsStorage: azurite.connectionString,
      LOCAL_HOST_PORT: '0',
      LOCAL_KSERVE_PRODUCTION_PORT: '0',
      LOCAL_KSERVE_STAGING_PORT: '0',
      LOCAL_KUBE_API: 'false',
      LOCAL_STACK_DIR: stackDir,
      LOCAL_FEAST_SEED: 'false',
      WORKFLOW_BACKEND: 'in-process',
      DRIFT_SCHEDULE: '0 0 0 1 1 *',
    });
    const { url } = host;
    const pid = host.child.pid!;
    const idle = await probeHealth(url, new Promise((r) => setTimeout(r, 3000)));
    console.log(`health, host idle: ${show(summarize(idle))}`);

    t = performance.now();
    let cpu = cpuSeconds(pid);
    const one = driftRun(url, hours + 1);
    const during = await probeHealth(url, one);
    const first = await one;
    console.log(
      `1 drift run: ${((performance.now() - t) / 1000).toFixed(2)} s, host CPU ${(cpuSeconds(pid) - cpu).toFixed(2)} s (answer ${first.status}, run ${first.id}, ${first.rows} rows)`,
    );
    console.log(`health during it: ${show(summarize(during))}`);

    let peak = rssMb(pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 100);
    t = performance.now();
    cpu = cpuSeconds(pid);
    const all = Promise.all(Array.from({ length: concurrent }, () => driftRun(url, hours)));
    const duringAll = await probeHealth(
      url,
      all.catch(() => undefined),
    );
    const results = await all;
    const seconds = (performance.now() - t) / 1000;
    clearInterval(sampler);
    const ids = new Set(results.map((r) => r.id));
    console.log(
      `${concurrent} concurrent drift runs: ${seconds.toFixed(2)} s until all done; answers ${[...new Set(results.map((r) => r.status))].join(', ')}; ` +
        `${ids.size} distinct run id(s); host CPU ${(cpuSeconds(pid) - cpu).toFixed(2)} s, peak RSS ${peak} MB`,
    );
    console.log(`health during them: ${show(summarize(duringAll))}`);
  } finally {
    await host?.stop();
    await azurite.stop();
    fs.rmSync(location, { recursive: true, force: true });
    fs.rmSync(stackDir, { recursive: true, force: true });
  }
}

runCli('bench:drift-run', main, USAGE);
