// `npm start`'s processes over their lifetime: Ctrl-C under load (the terminal signals the whole foreground process
// group), SIGKILL of the host, a model server that dies. The host runs as `npm start` runs it (a child process on
// free ports), against this file's own Azurite, which is outside the host's process group so that the log can be
// read after the host has gone.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseRawLog } from '../../../../shared/logs/rawLogFormat';
import { CONTAINERS } from '../../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../../shared/platform/blobStorage';
import { MODEL_NAME, publishModel } from '../../../../shared/model/modelArtifacts';
import { deployModel, modelStorageUri, readModelStatus, resetInferenceServices } from '../../../../shared/lifecycle/promotion/activities';
import { freePort, isPortOpen } from '../../../../tools/devhost/azurite';
import { setAppEnv } from '../../../helpers/env';
import { copyModelAsVersion, postJson } from '../../../helpers/gatewayStack';
import { RunningHost, startHostProcess, waitFor } from '../../../helpers/localHost';
import { useLogStorage } from '../../../helpers/logStorage';
import { distPath } from '../../../helpers/paths';

const storage = useLogStorage();

const mail = { subject: 'Lunch on Friday?', from: 'Ann <ann@example.com>', to: 'bob@example.com', body: 'Shall we meet at noon?' };

interface ModelServerLine {
  environment: string;
  url: string;
  pid: number;
}

/** The model servers the host announced (`KServe production: local V2 model server on URL, model version V, pid N`). */
function modelServers(output: string): ModelServerLine[] {
  return [...output.matchAll(/KServe (\w+): local V2 model server on (\S+), model version \S+, pid (\d+)/g)].map((m) => ({
    environment: m[1],
    url: m[2],
    pid: Number(m[3]),
  }));
}

/** Running: an exited child whose parent was killed stays a zombie until init reaps it, which may take seconds. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return process.platform !== 'linux';
  }
}

async function gone(pid: number, port: number): Promise<boolean> {
  return !alive(pid) && !(await isPortOpen(port));
}

/** Request ids of every row in the raw inference log. */
async function loggedRequestIds(): Promise<Set<string>> {
  const container = storage.container;
  const ids = new Set<string>();
  for await (const blob of container.listBlobsFlat({ prefix: 'raw/' })) {
    for (const row of parseRawLog(await container.getBlobClient(blob.name).downloadToBuffer())) ids.add(row.request_id);
  }
  return ids;
}

describe('Ctrl-C in the terminal under load', () => {
  let host: RunningHost | undefined;
  afterAll(async () => {
    await host?.stop();
  });

  it('exits 0 within seconds, with every answered prediction in the inference log and no model server left', async () => {
    host = await startHostProcess({ env: { AzureWebJobsStorage: storage.azurite.connectionString }, processGroup: true });
    const servers = modelServers(host.output());
    expect(servers.map((s) => s.environment).sort()).toEqual(['production', 'staging']);
    const run = randomUUID().slice(0, 8);
    const answered = new Set<string>();
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    // 40 requests a second, on, through the stop, until the host has exited: what a replay or a load test does.
    const load = setInterval(() => {
      const id = `ctrl-c-${run}-${sent++}`;
      const request = postJson(`${host!.url}/predict`, mail, { 'X-Request-ID': id, 'X-Environment': sent % 2 ? 'staging' : 'production' })
        .then((res) => {
          if (res.status === 200) answered.add((res.body as { request_id: string }).request_id);
        })
        .catch(() => undefined) // refused once the host has stopped listening: never answered, never counted
        .finally(() => inFlight.delete(request));
      inFlight.add(request);
    }, 25);
    await new Promise((r) => setTimeout(r, 3000));
    const exited = new Promise<number | null>((resolve) => host!.process.once('exit', (code) => resolve(code)));
    const started = Date.now();
    // The terminal signals the foreground process group; under `npm start`, npm forwards its own SIGINT as well.
    process.kill(-host.process.pid!, 'SIGINT');
    setTimeout(() => process.kill(-host!.process.pid!, 'SIGINT'), 5);
    const code = await exited;
    const stopMs = Date.now() - started;
    clearInterval(load);
    await Promise.all(inFlight);

    const logged = await loggedRequestIds();
    const missing = [...answered].filter((id) => !logged.has(id));
    console.log(`Ctrl-C: ${sent} sent, ${answered.size} answered, ${missing.length} missing from the log, stopped in ${stopMs} ms`);
    expect(code).toBe(0);
    expect(stopMs).toBeLessThan(5000);
    // Well under 120 on a busy machine (the interval timer slips), but always requests in flight at the signal.
    expect(answered.size).toBeGreaterThan(30);
    expect(missing).toEqual([]);
    expect(host.output()).toMatch(/Stopped in [\d.]+ s/);
    // The model servers were stopped by the host, after the flush (they were not in the group the signal reached).
    for (const s of servers) expect(await gone(s.pid, Number(new URL(s.url).port))).toBe(true);
  }, 90000);
});

describe('SIGKILL', () => {
  it('of the host leaves none of its model servers behind', async () => {
    const host = await startHostProcess({ env: { AzureWebJobsStorage: storage.azurite.connectionString } });
    const servers = modelServers(host.output());
    expect(servers).toHaveLength(2);
    for (const s of servers) expect(alive(s.pid)).toBe(true);
    const started = Date.now();
    host.process.kill('SIGKILL');
    await waitFor(
      async () => ((await Promise.all(servers.map((s) => gone(s.pid, Number(new URL(s.url).port))))).every(Boolean) ? true : undefined),
      2000,
      'the model servers to exit after the host was killed',
    );
    console.log(`SIGKILL of the host: model servers gone in ${Date.now() - started} ms`);
    await host.stop();
  }, 60000);

  it('of the process that started Azurite stops Azurite', async () => {
    const port = await freePort();
    const location = fs.mkdtempSync(path.join(os.tmpdir(), 'azurite-orphan-'));
    // A parent that starts Azurite the way `npm start` does, prints its pid, and waits to be killed.
    const script = `require(${JSON.stringify(distPath('tools', 'devhost', 'azurite.js'))})
      .startAzurite({ port: ${port}, location: ${JSON.stringify(location)} })
      .then((a) => console.log('azurite pid ' + a.pid));`;
    const parent = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      let output = '';
      parent.stdout.on('data', (d) => (output += d));
      const pid = await waitFor(async () => /azurite pid (\d+)/.exec(output)?.[1], 20000, 'Azurite to start').then(Number);
      expect(await isPortOpen(port)).toBe(true);
      const started = Date.now();
      parent.kill('SIGKILL');
      await waitFor(async () => ((await gone(pid, port)) ? true : undefined), 2000, 'Azurite to exit after its parent was killed');
      console.log(`SIGKILL of Azurite's parent: Azurite gone in ${Date.now() - started} ms`);
    } finally {
      parent.kill('SIGKILL');
      fs.rmSync(location, { recursive: true, force: true });
    }
  }, 60000);
});

describe('a model server that dies', () => {
  const NEW_VERSION = '1.2.0-restart-test';
  let host: RunningHost;
  let newModel: { dir: string; dispose(): void };
  let restoreKube: () => void;

  beforeAll(async () => {
    host = await startHostProcess({ env: { AzureWebJobsStorage: storage.azurite.connectionString } });
    await ensureContainers([CONTAINERS.models]);
    newModel = copyModelAsVersion(NEW_VERSION);
    await publishModel(newModel.dir, undefined, { version: NEW_VERSION });
    restoreKube = setAppEnv({ KUBE_CONNECTION: 'kubeconfig', KUBECONFIG: path.join(host.stackDir, 'kubeconfig'), KUBE_CONTEXT: undefined });
    resetInferenceServices();
  }, 90000);

  afterAll(async () => {
    await host?.stop();
    restoreKube?.();
    resetInferenceServices();
    newModel?.dispose();
  });

  it('is started again with backoff, serving the version the controller loaded, while predictions go on', async () => {
    // A promotion through the local KServe controller: staging now serves NEW_VERSION, not its start-up model.
    const storageUri = modelStorageUri(MODEL_NAME, NEW_VERSION);
    await deployModel({ env: 'staging', version: NEW_VERSION, storageUri });
    await waitFor(
      async () => ((await readModelStatus({ env: 'staging', storageUri })).verdict === 'ready' ? true : undefined),
      20000,
      'the staging InferenceService to be ready on the new version',
    );
    const staging = modelServers(host.output()).find((s) => s.environment === 'staging')!;
    const served = async () => {
      const res = await fetch(`${staging.url}/v2/models/${MODEL_NAME}`).catch(() => undefined);
      return res?.ok ? ((await res.json()) as { versions: string[] }).versions : undefined;
    };
    expect(await served()).toEqual([NEW_VERSION]);
    const predict = () => postJson(`${host.url}/predict`, mail, { 'X-Environment': 'staging' });
    // The gateway follows: its embedded fallback is then the same version (it answers 503 for any other).
    expect((await predict()).body.model.version).toBe(NEW_VERSION);

    // Predictions all through the outage: from the embedded model (degraded) until the server is back.
    let stop = false;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (!stop) {
        statuses.push((await predict()).status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const restartedPattern = /KServe staging: model server started again on \S+ \(pid (\d+)\), model version (\S+),/g;
    const restarts = () => [...host.output().matchAll(restartedPattern)];
    const killed = Date.now();
    process.kill(staging.pid, 'SIGKILL');
    const first = await waitFor(async () => restarts()[0], 10000, 'the staging server to start again');
    expect(await served()).toEqual([NEW_VERSION]);
    const restartMs = Date.now() - killed;
    expect(first[2]).toBe(NEW_VERSION);
    expect(host.output()).toMatch(
      new RegExp(`KServe staging: model server \\(pid ${staging.pid}\\) was killed by SIGKILL after [\\d.]+ s; restarting in 0\\.5 s`),
    );

    // Dying again soon after the restart doubles the delay, as Kubernetes' CrashLoopBackOff does.
    process.kill(Number(first[1]), 'SIGKILL');
    const second = await waitFor(async () => restarts()[1], 10000, 'the staging server to start again a second time');
    expect(host.output()).toMatch(
      new RegExp(`model server \\(pid ${first[1]}\\) was killed by SIGKILL after [\\d.]+ s; restarting in 1\\.0 s`),
    );
    expect(second[2]).toBe(NEW_VERSION);
    expect(await served()).toEqual([NEW_VERSION]);

    // Back on KServe once the gateway's breaker lets a probe through.
    const back = await waitFor(
      async () => {
        const res = await predict();
        return res.status === 200 && res.body.degraded === false ? res : undefined;
      },
      15000,
      'predictions from the restarted server',
    );
    stop = true;
    await traffic;
    console.log(`model server restart: serving again ${restartMs} ms after SIGKILL; ${statuses.length} predictions meanwhile`);
    expect(back.body.model.version).toBe(NEW_VERSION);
    expect(statuses.length).toBeGreaterThan(5);
    expect(statuses.every((s) => s === 200)).toBe(true);
  }, 90000);
});
