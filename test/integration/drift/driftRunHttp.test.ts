// On-demand drift runs on the local host (`npm start`'s host, a child process; WORKFLOW_BACKEND=in-process) over a
// private Azurite holding some 100,000 rows of production logs: identical concurrent requests make one run, another
// window of the environment is refused while it works, /api/health keeps answering meanwhile, the status route
// answers for the run after it finished (from its report, also in a new process), Ctrl-C cancels a run cleanly,
// and the temp folders of a killed host are removed by the next start. Each host gets a TMPDIR of its own, so its
// temp root is the test's. Then the same service in the test's process, on both workflow backends (Durable through
// a local stand-in for the extension's HTTP API).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import { median, quantile } from 'simple-statistics';
import { baselinePath, CONTAINERS, driftPartialsPrefix } from '../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../shared/platform/blobStorage';
import { activateBaselineUpload, markActivationChecked } from '../../../shared/drift/activeBaseline';
import { getDriftRunStatus, onDemandRequest, requestDriftRun } from '../../../shared/drift/driftRuns';
import { baselineFile, COMMITTED_MODEL_VERSION, MODEL_NAME, publishCommittedModel } from '../../../shared/model/modelArtifacts';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { TEMP_ROOT_NAME } from '../../../shared/platform/tempSpace';
import { workflowBackend } from '../../../shared/platform/workflow/backend';
import { driftRunStart } from '../../../functions/driftRunStart';
import { driftRunStatus } from '../../../functions/driftRunStatus';
import { freePort } from '../../../tools/devhost/azurite';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { compactHour, logRecords, records, reportBlobs } from '../../helpers/driftLogs';
import { setAppEnv } from '../../helpers/env';
import { FakeDurableExtension, startFakeDurableExtension } from '../../helpers/fakeDurableExtension';
import { RunningHost, startHostProcess, waitFor } from '../../helpers/localHost';

const HOUR = 3600_000;
const HOURS = 8;
const ROWS_PER_HOUR = 12_000;
const NOW = Math.floor(Date.now() / HOUR) * HOUR;

let azurite: TestAzurite;
let restoreEnv: () => void;
let tmp: string;
let closedPort: number;

/** The hosts' temp root: TMPDIR is the test's folder. */
const tempRoot = () => path.join(tmp, TEMP_ROOT_NAME);

function hostEnv(): Record<string, string> {
  return {
    AzureWebJobsStorage: azurite.connectionString,
    TMPDIR: tmp,
    WORKFLOW_BACKEND: 'in-process',
    DRIFT_ENVIRONMENTS: 'production',
    DRIFT_SCHEDULE: '0 0 0 1 1 *', // no tick while the test runs
    // No model servers and no Kubernetes API: a host killed with SIGKILL leaves no child processes behind. KServe on
    // a closed port answers the health checks at once.
    LOCAL_MODEL_SERVERS: 'false',
    LOCAL_KUBE_API: 'false',
    KSERVE_PRODUCTION_URL: `http://127.0.0.1:${closedPort}`,
    KSERVE_STAGING_URL: `http://127.0.0.1:${closedPort}`,
  };
}

interface RunAnswer {
  status: number;
  location: string | null;
  body: any;
}

async function postRun(host: RunningHost, query: string): Promise<RunAnswer> {
  const res = await fetch(`${host.url}/drift/run?${query}`, { method: 'POST' });
  return { status: res.status, location: res.headers.get('location'), body: await res.json() };
}

async function runStatus(host: RunningHost, id: string): Promise<any> {
  const res = await fetch(`${host.url}/drift/runs/${id}`);
  expect(res.status).toBe(200);
  return res.json();
}

/** Until the run has finished (Completed or Failed); its last status. */
function finished(host: RunningHost, id: string, timeoutMs = 60_000): Promise<any> {
  return waitFor(
    async () => {
      const s = await runStatus(host, id);
      return s.runtimeStatus === 'Running' || s.runtimeStatus === 'Pending' ? undefined : s;
    },
    timeoutMs,
    `drift run ${id} to finish`,
  );
}

/** Until the run counts partitions with at least two still to go: it is reading logs, so it has temp folders. */
async function counting(host: RunningHost, id: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const s = await runStatus(host, id);
    if (s.runtimeStatus !== 'Running' && s.runtimeStatus !== 'Pending') throw new Error(`run ${id} ended before the test could act`);
    if (s.step?.step === 'counting' && s.step.partitions.total - s.step.partitions.done >= 2) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for drift run ${id} to count partitions`);
}

/** Run ids come from the minute: requests that must name the same run are sent well inside one. */
async function insideOneMinute(): Promise<void> {
  const intoMinute = Date.now() % 60_000;
  if (intoMinute > 45_000) await new Promise((r) => setTimeout(r, 60_500 - intoMinute));
}

/** Entries under a folder, recursively, relative to it. */
function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const processFolder = (host: RunningHost) => fs.readdirSync(tempRoot()).find((n) => n.startsWith(`${host.process.pid}-`));

beforeAll(async () => {
  azurite = await startTestAzurite();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'drift-run-http-'));
  closedPort = await freePort();
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    WORKFLOW_BACKEND: 'in-process',
    COMPACTION_ROW_GROUP_ROWS: '4000',
  });
  await ensureContainers(Object.values(CONTAINERS));
  // The committed model and its baseline, active and checked before any host starts: the host's blob trigger then
  // finds nothing to do and starts no check of its own.
  await publishCommittedModel();
  const activation = await activateBaselineUpload(
    baselinePath(MODEL_NAME, COMMITTED_MODEL_VERSION),
    fs.readFileSync(baselineFile(COMMITTED_MODEL_VERSION)),
    new Date(),
  );
  if (activation.outcome === 'rejected') throw new Error(activation.issues.join('; '));
  await markActivationChecked(MODEL_NAME, COMMITTED_MODEL_VERSION, activation.record.sha256, new Date());
  for (let h = HOURS; h >= 1; h--) {
    const hour = new Date(NOW - h * HOUR);
    await logRecords(records({ env: 'production', hour, count: ROWS_PER_HOUR, seed: h, version: COMMITTED_MODEL_VERSION }), 4000);
    expect(await compactHour('production', hour)).toBe(ROWS_PER_HOUR);
  }
}, 180_000);

afterAll(async () => {
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe('POST /api/drift/run on the local host', () => {
  let host: RunningHost;
  let runId: string;
  let summary: any;

  afterAll(async () => {
    await host?.stop();
  });

  it('sweeps the temp folders of stopped processes when it starts', async () => {
    // What a host killed mid-run leaves: its folder with a run's log files, under a pid no process has now.
    const leftover = path.join(tempRoot(), '4194303-1700000000000', 'logwindow-Xy12ab');
    fs.mkdirSync(leftover, { recursive: true });
    fs.writeFileSync(path.join(leftover, 'p0.parquet'), Buffer.alloc(1 << 20));
    fs.mkdirSync(path.join(tempRoot(), 'logwindow-loose'));

    host = await startHostProcess({ env: hostEnv() });

    expect(fs.readdirSync(tempRoot()).filter((n) => !n.startsWith(`${host.process.pid}-`))).toEqual([]);
    expect(host.output()).toMatch(/temp: removed 2 folder\(s\), 1\.0 MB, left in .* by processes that stopped/);
  });

  it('lists the operator routes with the auth level Azure enforces (admin); the host itself checks no key', () => {
    for (const line of [
      'driftRunStart: [POST] http://localhost:',
      'driftRunStatus: [GET] http://localhost:',
      'healthDetails: [GET] http://localhost:',
      'promoteModel: [POST] http://localhost:',
      'retrainModel: [POST] http://localhost:',
    ]) {
      expect(host.output()).toMatch(new RegExp(`${line.replace(/[[\]]/g, '\\$&')}\\d+/api/\\S+ \\(admin\\)`));
    }
    expect(host.output()).toMatch(/predict: \[POST\] http:\/\/localhost:\d+\/api\/predict \(function\)/);
  });

  it('makes one run of identical concurrent requests, refuses another window meanwhile, and keeps /api/health answering', async () => {
    await insideOneMinute();
    const health: number[] = [];
    let working = true;
    const probe = (async () => {
      while (working) {
        const t = performance.now();
        const res = await fetch(`${host.url}/health`);
        await res.arrayBuffer();
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();

    const answers = await Promise.all(Array.from({ length: 8 }, () => postRun(host, `env=production&hours=${HOURS + 2}`)));
    const conflict = await postRun(host, `env=production&hours=${HOURS + 1}`);

    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(202));
    runId = answers[0].body.id;
    expect(runId).toMatch(new RegExp(`^http-\\d{8}T\\d{4}00Z-${HOURS + 2}h-production$`));
    expect(new Set(answers.map((a) => a.body.id))).toEqual(new Set([runId]));
    expect(new Set(answers.map((a) => a.location))).toEqual(new Set([`${host.url}/drift/runs/${runId}`]));
    expect(answers.map((a) => a.body.outcome).sort()).toEqual([
      'joined',
      'joined',
      'joined',
      'joined',
      'joined',
      'joined',
      'joined',
      'started',
    ]);
    expect(answers[0].body).toMatchObject({ environment: 'production', window: { hours: HOURS + 2 }, status: answers[0].location });

    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('conflict');
    expect(conflict.body.error.message).toContain(`drift run ${runId} (production) is in flight`);
    expect(conflict.body.error.message).toContain(`/api/drift/runs/${runId}`);

    const done = await finished(host, runId);
    working = false;
    await probe;

    expect(done).toMatchObject({ id: runId, runtimeStatus: 'Completed', step: { step: 'finished', status: 'critical' } });
    expect(done.record).toMatchObject({ run_id: runId, environment: 'production', status: 'critical', rows: HOURS * ROWS_PER_HOUR });
    summary = done.record;
    expect(host.output().split(`drift run ${runId} (production) finished`).length - 1).toBe(1);
    expect(await reportBlobs('env=production/')).toEqual([done.record.report.html, done.record.report.json].sort());
    // The run's work folders are gone once it has finished.
    expect(listTree(path.join(tempRoot(), processFolder(host)!)).filter((n) => /logwindow-|compact-/.test(n))).toEqual([]);

    // Answered all along: the run gives the event loop back every few milliseconds.
    expect(health.length).toBeGreaterThan(10);
    expect(median(health)).toBeLessThan(100);
    expect(quantile(health, 0.9)).toBeLessThan(500);
    expect(Math.max(...health)).toBeLessThan(3000);
  });

  it('cancels a run on Ctrl-C: the host stops at once and leaves no temp folders or partial counts', async () => {
    const started = await postRun(host, `env=production&hours=${HOURS + 3}`);
    expect(started.status).toBe(202);
    await counting(host, started.body.id);
    const folder = path.join(tempRoot(), processFolder(host)!);
    const t = Date.now();
    expect(await host.stop()).toBe(0);
    expect(Date.now() - t).toBeLessThan(15_000);
    expect(host.output()).toContain(`drift run ${started.body.id} cancelled: the host is stopping`);
    expect(listTree(folder).filter((n) => /logwindow-|compact-/.test(n))).toEqual([]);
    expect(await reportBlobs(driftPartialsPrefix(started.body.id))).toEqual([]);
  });

  it('answers for a finished run by its id from a new process (the stored report); unknown ids are 404', async () => {
    host = await startHostProcess({ env: hostEnv() });
    const status = await runStatus(host, runId);
    expect(status).toMatchObject({ id: runId, runtimeStatus: 'Completed', record: summary });
    for (const id of ['http-20200101T000000Z-24h-production', 'no-such-run', '..%2F..%2Fetc']) {
      const res = await fetch(`${host.url}/drift/runs/${id}`);
      expect(res.status).toBe(404);
      expect(((await res.json()) as any).error.code).toBe('not_found');
    }
  });

  it('removes at its next start the temp folders of a host that was killed mid-run', async () => {
    const started = await postRun(host, `env=production&hours=${HOURS + 4}`);
    await counting(host, started.body.id);
    const killed = host;
    const folder = path.join(tempRoot(), processFolder(killed)!);
    // Killed while it holds a partition's log files, when the test catches it doing so (it does most of the time).
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline && !listTree(folder).some((n) => n.startsWith('logwindow-'))) await new Promise((r) => setTimeout(r, 2));
    const exited = new Promise((r) => killed.process.once('exit', r));
    killed.process.kill('SIGKILL');
    await exited;
    const left = fs.existsSync(folder);

    host = await startHostProcess({ env: hostEnv() });
    expect(left).toBe(true);
    expect(fs.existsSync(folder)).toBe(false);
    expect(host.output()).toMatch(/temp: removed 1 folder\(s\)/);
    expect(fs.readdirSync(tempRoot()).filter((n) => !n.startsWith(`${host.process.pid}-`))).toEqual([]);
  });
});

// A window that ended before the test began: its run id is the same whenever the test asks.
const checkedWindow = () => onDemandRequest({ env: 'production', modelName: MODEL_NAME, hours: 3, now: new Date(NOW - 90_000) });
const url = (id: string) => `http://localhost/api/drift/runs/${id}`;

describe('drift runs in the app process', () => {
  const context = () => new InvocationContext({ functionName: 'driftRunStart', logHandler: () => undefined });
  const post = (query: string) =>
    driftRunStart(new HttpRequest({ method: 'POST', url: `http://localhost/api/drift/run?${query}` }), context());

  it('answers a window that has been checked already from its report, without running it again', async () => {
    const request = checkedWindow();
    const first = await requestDriftRun({ kind: 'in-process' }, request, console, url);
    expect(first.outcome).toBe('started');
    const again = await requestDriftRun({ kind: 'in-process' }, request, console, url);
    expect(again.outcome).toBe('joined');
    await waitFor(
      async () => ((await getDriftRunStatus({ kind: 'in-process' }, request.runId)).runtimeStatus === 'Completed' ? true : undefined),
      60_000,
      'the run',
    );
    const reports = await reportBlobs('env=production/');
    const later = await requestDriftRun({ kind: 'in-process' }, request, console, url);
    expect(later.outcome).toBe('finished');
    expect(later.status).toMatchObject({
      id: request.runId,
      runtimeStatus: 'Completed',
      record: { run_id: request.runId, status: 'critical' },
    });
    expect(await reportBlobs('env=production/')).toEqual(reports);
  });

  it('answers bad parameters with 400', async () => {
    for (const query of [
      'env=prod',
      'env=production&hours=0',
      'env=production&hours=1e3',
      'env=production&hours=2161',
      'env=production&hours=',
    ]) {
      const res = await post(query);
      expect({ query, status: res.status }).toEqual({ query, status: 400 });
    }
  });
});

describe('drift runs under Durable (WORKFLOW_BACKEND=durable)', () => {
  let extension: FakeDurableExtension;
  let restore: () => void;

  beforeAll(async () => {
    extension = await startFakeDurableExtension();
    restore = setAppEnv({ WORKFLOW_BACKEND: 'durable' });
  });

  afterAll(async () => {
    restore();
    await extension.close();
  });

  const post = (query: string) =>
    driftRunStart(
      new HttpRequest({ method: 'POST', url: `https://app.example/api/drift/run?${query}` }),
      extension.context('driftRunStart'),
    ) as Promise<{
      status: number;
      headers: Record<string, string>;
      jsonBody: any;
    }>;
  const status = (id: string) =>
    driftRunStatus(new HttpRequest({ method: 'GET', url: url(id), params: { id } }), extension.context('driftRunStatus')) as Promise<{
      status: number;
      jsonBody: any;
    }>;
  const starts = () => extension.requests.filter((r) => r.method === 'POST' && r.path.startsWith('orchestrators/'));

  it('starts the orchestration once per run id, joins it while it is pending or running, and refuses another window', async () => {
    await insideOneMinute();
    const first = await post('env=staging&hours=6');
    const second = await post('env=staging&hours=6');
    expect([first.status, second.status]).toEqual([202, 202]);
    expect([first.jsonBody.outcome, second.jsonBody.outcome]).toEqual(['started', 'joined']);
    const id = first.jsonBody.id;
    expect(second.jsonBody.id).toBe(id);
    expect(first.headers.Location).toBe(`https://app.example/api/drift/runs/${id}`);
    expect(starts().map((r) => r.path)).toEqual([`orchestrators/driftOrchestrator/${id}`]);
    expect(JSON.parse(starts()[0].body)).toMatchObject({ env: 'staging', windowHours: 6, trigger: 'http', runId: id });

    extension.instances.get(id)!.runtimeStatus = 'Running';
    const other = await post('env=staging&hours=7');
    expect(other.status).toBe(409);
    expect(other.jsonBody.error.message).toContain(`drift run ${id} (staging) is in flight`);
    // Another environment is not held up.
    const production = await post('env=production&hours=6');
    expect(production.status).toBe(202);
    expect(starts()).toHaveLength(2);
    extension.instances.get(production.jsonBody.id)!.runtimeStatus = 'Completed';

    expect((await status(id)).jsonBody).toMatchObject({ id, runtimeStatus: 'Running' });
    Object.assign(extension.instances.get(id)!, { runtimeStatus: 'Completed', output: { run_id: id, status: 'healthy' } });
    expect((await status(id)).jsonBody).toMatchObject({ id, runtimeStatus: 'Completed', record: { run_id: id, status: 'healthy' } });
  });

  it('answers a checked window from its report: no orchestration is started, and the status outlives the instance', async () => {
    const request = checkedWindow(); // its report was stored by the in-process test above
    const before = starts().length;
    const again = await requestDriftRun(workflowBackend(extension.context()), request, console, url);
    expect(again).toMatchObject({ outcome: 'finished', status: { runtimeStatus: 'Completed', record: { run_id: request.runId } } });
    expect(starts()).toHaveLength(before);
    expect(extension.instances.has(request.runId)).toBe(false);
    expect((await status(request.runId)).jsonBody).toMatchObject({ id: request.runId, runtimeStatus: 'Completed' });
    expect((await status('http-20200101T000000Z-24h-staging')).status).toBe(404);
  });
});
