// `npm run bench:feedback`: how many feedback records per second POST /api/feedback accepts over real HTTP on
// loopback. The server is a child process serving the registered `feedback` function through the local host's HTTP
// layer (as `npm start` serves it), writing to a private Azurite; autocannon drives it from this process. After the
// runs the server flushes its buffer and exits, and every accepted record is counted in Blob (nothing lost).
//
//   npm run bench:feedback -- [--duration 10] [--runs 3] [--connections 16] [--batch 1] [--messages 200]
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import { median } from 'simple-statistics';
import { positiveOption } from './options';
import { parseCliArgs, parseInteger, runCli } from '../cli/cliArgs';
import { freePort, startAzurite } from '../devhost/azurite';
import { loadFunctions } from '../devhost/host';
import { startHttpServer } from '../devhost/httpServer';
import { consoleLogger } from '../devhost/logging';
import { CONTAINERS, feedbackDayPrefix } from '../../shared/platform/blobLayout';
import { getContainerClient, ensureContainers } from '../../shared/platform/blobStorage';
import { flushFeedbackWriter } from '../../shared/feedback/feedbackWriter';
import { projectRoot } from '../../shared/platform/projectRoot';

const USAGE = `usage: npm run bench:feedback [-- options]
  --duration <S>     seconds per run, a positive number (default 10)
  --runs <N>         runs, a positive integer (default 3)
  --connections <N>  concurrent connections, a positive integer (default 16)
  --batch <N>        feedback records per request (1 = the single form), a positive integer (default 1)
  --messages <N>     distinct request bodies cycled through, a positive integer (default 200)`;

/** The child: the registered feedback function on `port`; flushes the writer and exits on SIGTERM. */
async function serve(port: number): Promise<void> {
  const registry = loadFunctions(projectRoot());
  const logger = consoleLogger();
  const fn = registry.byTrigger('httpTrigger').filter((f) => f.name === 'feedback');
  const server = await startHttpServer(fn, port, { ...logger, info: () => undefined });
  process.on('SIGTERM', () => {
    void (async () => {
      await server.close();
      await flushFeedbackWriter();
      process.exit(0);
    })();
  });
  process.stdout.write('ready\n');
  // runCli exits when main settles: the server runs until SIGTERM.
  await new Promise<never>(() => undefined);
}

/** A structured email of corpus-like size (about 2 KB), distinct per n so that every message has its own key. */
function email(n: number) {
  return {
    subject: `Quarterly report ${n}`,
    from: `sender${n % 97}@example${n % 13}.org`,
    to: 'you@example.com',
    headers: { Date: 'Tue, 03 Mar 2026 10:00:00 +0000', 'Message-ID': `<${n}@example.org>` },
    body: `Hello,\n\n${'Please find the figures for this quarter attached and let me know what you think. '.repeat(24)}\n\nRegards ${n}`,
  };
}

function bodies(messages: number, batch: number): string[] {
  return Array.from({ length: messages }, (_, i) => {
    const item = (k: number) => ({ label: (i + k) % 3 ? 'ham' : 'spam', request_id: `bench-${i}-${k}`, email: email(i * batch + k) });
    return JSON.stringify(batch === 1 ? item(0) : { instances: Array.from({ length: batch }, (_, k) => item(k)) });
  });
}

async function storedRecords(): Promise<number> {
  const container = getContainerClient(CONTAINERS.feedback);
  let n = 0;
  for await (const item of container.listBlobsFlat({ prefix: feedbackDayPrefix() })) {
    const body = await container.getBlobClient(item.name).downloadToBuffer();
    n += body
      .toString()
      .split('\n')
      .filter((l) => l.trim()).length;
  }
  return n;
}

function startServer(port: number, connectionString: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [__filename, '--serve', String(port)], {
    env: { ...process.env, AzureWebJobsStorage: connectionString },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the feedback server exited with ${code}`)));
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve(child);
    });
  });
}

async function main(argv: string[]): Promise<void> {
  const { values } = parseCliArgs(argv, {
    duration: { type: 'string' },
    runs: { type: 'string' },
    connections: { type: 'string' },
    batch: { type: 'string' },
    messages: { type: 'string' },
    serve: { type: 'string' }, // internal: the child process
  });
  if (values.serve !== undefined) return serve(parseInteger('--serve', values.serve, { min: 1 }));
  const duration = positiveOption('--duration', values.duration, 10, 'number');
  const runs = positiveOption('--runs', values.runs, 3);
  const connections = positiveOption('--connections', values.connections, 16);
  const batch = positiveOption('--batch', values.batch, 1);
  const messages = positiveOption('--messages', values.messages, 200);

  const location = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-feedback-'));
  const azurite = await startAzurite({ port: await freePort(), location });
  process.env.AzureWebJobsStorage = azurite.connectionString;
  await ensureContainers([CONTAINERS.feedback]);
  const port = await freePort();
  const server = await startServer(port, azurite.connectionString);
  try {
    const requests = bodies(messages, batch).map((body) => ({
      method: 'POST',
      path: '/api/feedback',
      headers: { 'content-type': 'application/json' },
      body,
    }));
    const rates: number[] = [];
    let accepted = 0;
    console.log(`POST /api/feedback, ${connections} connections, ${batch} record(s) per request, ${duration} s per run`);
    for (let run = 1; run <= runs; run++) {
      const r = await autocannon({ url: `http://127.0.0.1:${port}`, connections, duration, requests });
      accepted += r['2xx'] * batch;
      const rate = r.requests.average * batch;
      rates.push(rate);
      const problems = r.non2xx || r.errors || r.timeouts ? `   (non-2xx ${r.non2xx}, errors ${r.errors}, timeouts ${r.timeouts})` : '';
      console.log(`  run ${run}: ${rate.toFixed(0).padStart(6)} records/s   p50 ${r.latency.p50} ms   p99 ${r.latency.p99} ms${problems}`);
    }
    console.log(`median: ${median(rates).toFixed(0)} records/s`);
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
    const stored = await storedRecords();
    // autocannon stops counting at the end of a run with up to one request per connection still being answered.
    const inFlight = runs * connections * batch;
    const ok = stored >= accepted && stored - accepted <= inFlight;
    console.log(
      `answered 2xx: ${accepted} records; in Blob after the shutdown flush: ${stored} (at most ${inFlight} more: requests in flight when a run ended)${ok ? '' : '  <-- RECORDS LOST'}`,
    );
  } finally {
    server.kill('SIGKILL');
    await azurite.stop();
    fs.rmSync(location, { recursive: true, force: true });
  }
}

runCli('bench:feedback', main, USAGE);
