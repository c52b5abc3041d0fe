// `npm run bench:predict`: the gateway's throughput and latency under load, beside two references measured on the
// same machine in the same run:
//   gateway  POST /api/predict with corpus mail (raw RFC 822) through the local stack as `npm start` runs it:
//            the Functions host (child process) -> Feast/Redis -> the local V2 model server (child process) ->
//            response, with the async inference log writing to a private Azurite
//   (a)      the essential compute alone: the same parse + 50 features + ONNX inference, in-process, in a loop over
//            the same mail (no HTTP, no Redis, no V2 hop, no logging)
//   (b)      a bare HTTP server (child process) that only runs the ONNX model on a fixed vector
// Each is run --runs times (default 3) for --duration seconds (default 10) at --connections (default 16); the
// medians are printed with the ratios gateway/(a) and gateway/(b).
//
//   npm run bench:predict -- [--duration 10] [--runs 3] [--connections 16] [--messages 200]
import autocannon from 'autocannon';
import { median } from 'simple-statistics';
import { positiveOption } from './options';
import { parseCliArgs, parseInteger, runCli } from '../cli/cliArgs';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort, startAzurite } from '../devhost/azurite';
import { loadCorpus, CorpusMessage } from '../../training/corpus';
import { FEATURE_COUNT, UNKNOWN_SENDER } from '../../shared/serving/features/featureList';
import { computeFeatures, parseEmail } from '../../shared/serving/features/transformer';
import { committedModelDir, loadModelDirectory } from '../../shared/model/modelArtifacts';
import { projectRoot } from '../../shared/platform/projectRoot';

const USAGE = `usage: npm run bench:predict [-- options]
  --duration <S>     seconds per run, a positive number (default 10)
  --runs <N>         runs, a positive integer (default 3)
  --connections <N>  concurrent connections, a positive integer (default 16)
  --messages <N>     corpus messages in the load, a positive integer (default 200)`;

interface Figures {
  rps: number;
  p50: number;
  p90: number;
  p99: number;
}

const medianFigures = (runs: Figures[]): Figures => ({
  rps: median(runs.map((r) => r.rps)),
  p50: median(runs.map((r) => r.p50)),
  p90: median(runs.map((r) => r.p90)),
  p99: median(runs.map((r) => r.p99)),
});
const fmt = (f: Figures) =>
  `${f.rps.toFixed(0).padStart(7)} req/s   p50 ${f.p50.toFixed(2).padStart(7)} ms   p90 ${f.p90.toFixed(2).padStart(7)} ms   p99 ${f.p99.toFixed(2).padStart(7)} ms`;

/** Mail for the load: a fixed, deterministic slice of the corpus, both labels. */
function benchMail(count: number): CorpusMessage[] {
  const all = loadCorpus();
  const spam = all.filter((m) => m.spam);
  const ham = all.filter((m) => !m.spam);
  const out: CorpusMessage[] = [];
  for (let i = 0; out.length < count && (i < spam.length || i < ham.length); i++) {
    if (i < ham.length) out.push(ham[(i * 7919) % ham.length]);
    if (i < spam.length && out.length < count) out.push(spam[(i * 7919) % spam.length]);
  }
  return out;
}

/** (a) The essential compute, in-process: parse + features + ONNX per message, sequentially, for `seconds`. */
async function essentialCompute(mail: string[], seconds: number): Promise<Figures> {
  const model = await loadModelDirectory(committedModelDir());
  try {
    const latencies: number[] = [];
    const end = performance.now() + seconds * 1000;
    for (let i = 0; performance.now() < end; i++) {
      const t0 = performance.now();
      const features = computeFeatures(await parseEmail({ raw: mail[i % mail.length] }), model.tokens, UNKNOWN_SENDER);
      await model.onnx.predict(features);
      latencies.push(performance.now() - t0);
    }
    latencies.sort((a, b) => a - b);
    const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
    return { rps: latencies.length / seconds, p50: q(50), p90: q(90), p99: q(99) };
  } finally {
    await model.onnx.close();
  }
}

/** (b) The bare server, run in a child process: `node dist/tools/bench/predict.js --bare-server PORT`; resolves when it closes. */
async function bareServerMain(port: number): Promise<void> {
  const model = await loadModelDirectory(committedModelDir());
  const fixed = Float32Array.from({ length: FEATURE_COUNT }, (_, i) => (i % 5) / 5);
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      model.onnx.predict(fixed).then(
        (p) => {
          const body = JSON.stringify({ probabilities: [p[0], p[1]] });
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.once('close', resolve);
    server.listen(port, '127.0.0.1', () => console.log(`bare ONNX server listening on ${(server.address() as AddressInfo).port}`));
  });
}

function spawnAndWait(
  args: string[],
  env: NodeJS.ProcessEnv,
  ready: RegExp,
  timeoutMs = 60000,
): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: projectRoot() });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args[0]} did not start:\n${output}`)), timeoutMs);
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = ready.exec(output);
      if (m) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume();
        child.stderr.resume();
        resolve({ child, match: m });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.removeAllListeners('exit');
    child.once('exit', () => resolve());
    child.kill('SIGINT');
    setTimeout(() => child.kill('SIGKILL'), 15000).unref();
  });
}

async function load(url: string, requests: Array<Record<string, unknown>>, connections: number, seconds: number): Promise<Figures> {
  const r = await autocannon({ url, connections, duration: seconds, requests });
  if (r.non2xx || r.errors || r.timeouts) console.log(`    (non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})`);
  return { rps: r.requests.average, p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99 };
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseCliArgs(argv, {
    duration: { type: 'string' },
    runs: { type: 'string' },
    connections: { type: 'string' },
    messages: { type: 'string' },
    'bare-server': { type: 'string' }, // internal: the child process of (b)
  });
  if (values['bare-server'] !== undefined)
    return bareServerMain(parseInteger('bare-server', values['bare-server'], { min: 0, max: 65535 }));
  const seconds = positiveOption('duration', values.duration, 10, 'number');
  const runs = positiveOption('runs', values.runs, 3);
  const connections = positiveOption('connections', values.connections, 16);
  const messages = positiveOption('messages', values.messages, 200);
  console.log(
    `bench:predict — ${runs} runs x ${seconds} s at ${connections} connections, ${messages} corpus messages; ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), Node ${process.version}`,
  );
  console.log(
    'Note: the load generator, the host and the model server share these CPUs (and other work on the machine): figures are noisy.',
  );

  const mail = benchMail(messages).map((m) => m.raw.toString('latin1'));
  const bodies = mail.map((raw) => JSON.stringify({ raw }));

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-predict-'));
  const azurite = await startAzurite({ port: await freePort(), location: path.join(scratch, 'azurite') });
  const [hostPort, prodPort, stagingPort, barePort] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const env = {
    ...process.env,
    AzureWebJobsStorage: azurite.connectionString,
    LOCAL_HOST_PORT: String(hostPort),
    LOCAL_KSERVE_PRODUCTION_PORT: String(prodPort),
    LOCAL_KSERVE_STAGING_PORT: String(stagingPort),
    KSERVE_PRODUCTION_URL: `http://127.0.0.1:${prodPort}`,
    KSERVE_STAGING_URL: `http://127.0.0.1:${stagingPort}`,
    FEAST_PROJECT: `bench_${randomUUID().slice(0, 8)}`,
  };
  const dist = path.join(projectRoot(), 'dist');
  const children: ChildProcess[] = [];
  try {
    console.log('Starting the local stack (Azurite, V2 model servers, Functions host) and the bare ONNX server...');
    const host = await spawnAndWait([path.join(dist, 'tools', 'cli', 'start.js')], env, /Host listening on (\S+)/);
    children.push(host.child);
    const bare = await spawnAndWait(
      [path.join(dist, 'tools', 'bench', 'predict.js'), '--bare-server', String(barePort)],
      env,
      /bare ONNX server listening on (\d+)/,
    );
    children.push(bare.child);
    const gatewayUrl = host.match[1].replace('localhost', '127.0.0.1');

    const requests = bodies.map((body) => ({
      method: 'POST',
      path: '/api/predict',
      headers: { 'content-type': 'application/json' },
      body,
    }));
    const check = await fetch(`${gatewayUrl}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bodies[0],
    });
    const sample = (await check.json()) as { degraded?: boolean; model?: { version: string } };
    console.log(`Gateway check: ${check.status}, model ${sample.model?.version}, degraded ${sample.degraded}`);

    console.log('Warm-up (2 s each)...');
    await load(`${gatewayUrl}/predict`, requests, connections, 2);
    await load(`http://127.0.0.1:${barePort}/`, [{ method: 'POST', path: '/', body: '{}' }], connections, 2);
    await essentialCompute(mail, 1);

    const results = { gateway: [] as Figures[], gateway1: [] as Figures[], a: [] as Figures[], b: [] as Figures[] };
    for (let run = 1; run <= runs; run++) {
      results.gateway.push(await load(`${gatewayUrl}/predict`, requests, connections, seconds));
      console.log(`  run ${run} gateway   ${fmt(results.gateway[results.gateway.length - 1])}`);
      // One connection: no queueing, so its latency is the per-request cost the serving path adds to (a).
      results.gateway1.push(await load(`${gatewayUrl}/predict`, requests, 1, Math.max(2, seconds / 2)));
      console.log(`  run ${run} gateway@1 ${fmt(results.gateway1[results.gateway1.length - 1])}`);
      results.a.push(await essentialCompute(mail, seconds));
      console.log(`  run ${run} (a)       ${fmt(results.a[results.a.length - 1])}`);
      results.b.push(await load(`http://127.0.0.1:${barePort}/`, [{ method: 'POST', path: '/', body: '{}' }], connections, seconds));
      console.log(`  run ${run} (b)       ${fmt(results.b[results.b.length - 1])}`);
    }
    const g = medianFigures(results.gateway);
    const g1 = medianFigures(results.gateway1);
    const a = medianFigures(results.a);
    const b = medianFigures(results.b);
    console.log(`\nMedians of ${runs} runs (${seconds} s each, ${connections} connections):`);
    console.log(`  gateway  /api/predict (host + Redis + V2 hop + log)  ${fmt(g)}`);
    console.log(`  gateway  same, 1 connection (no queueing)            ${fmt(g1)}`);
    console.log(`  (a)      parse + features + ONNX, in-process, 1 loop  ${fmt(a)}`);
    console.log(`  (b)      bare HTTP server, ONNX on a fixed vector     ${fmt(b)}`);
    console.log(`  throughput gateway/(a) = ${(g.rps / a.rps).toFixed(2)}   gateway/(b) = ${(g.rps / b.rps).toFixed(3)}`);
    console.log(
      `  throughput gateway@1/(a) = ${(g1.rps / a.rps).toFixed(2)}: one request at a time, the plumbing costs ${(1000 / g1.rps - 1000 / a.rps).toFixed(2)} ms per request on top of (a)`,
    );
    console.log(
      `  p50 latency gateway/(a) = ${(g.p50 / a.p50).toFixed(2)} at ${connections} connections (queueing included), gateway@1/(a) = ${(g1.p50 / a.p50).toFixed(2)}`,
    );
  } finally {
    await Promise.all(children.map(stopChild));
    await azurite.stop();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}

runCli('bench:predict', main, USAGE);
