// The async inference logger against a private Azurite: batching by size and time, blob names, exact contents,
// a Blob outage (Azurite stopped) losing nothing and duplicating nothing, bounded memory and its counters.
import net from 'node:net';
import { azuriteConnectionString } from '../../../tools/devhost/azurite';
import { CONTAINERS, parseLogPartition } from '../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../shared/platform/blobStorage';
import { FEATURE_NAMES } from '../../../shared/serving/features/featureList';
import {
  blobBatchUploader,
  InferenceLogger,
  InferenceLoggerOptions,
  inferenceLoggerHealthCheck,
  newWriterId,
} from '../../../shared/logs/inferenceLogger';
import { InferenceLogRecord, LogRecordError, toFlatRow } from '../../../shared/logs/logSchema';
import { parseRawLog } from '../../../shared/logs/rawLogFormat';
import { syntheticRecords } from '../../../tools/bench/syntheticRecords';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

let azurite: TestAzurite;
let restoreEnv: () => void;

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({ AzureWebJobsStorage: azurite.connectionString, BLOB_TIMEOUT_MS: '2000' });
  await getContainerClient(CONTAINERS.inferenceLogs).createIfNotExists();
});

afterAll(async () => {
  restoreEnv();
  await azurite.dispose();
});

function options(overrides: Partial<InferenceLoggerOptions> = {}): InferenceLoggerOptions {
  return {
    maxBufferedRecords: 10000,
    maxBatchRecords: 500,
    flushIntervalMs: 60000,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    maxConcurrentUploads: 2,
    writerId: newWriterId(),
    upload: blobBatchUploader,
    ...overrides,
  };
}

async function rawBlobsOf(writer: string): Promise<{ name: string; rows: Record<string, unknown>[] }[]> {
  const container = getContainerClient(CONTAINERS.inferenceLogs);
  const out: { name: string; rows: Record<string, unknown>[] }[] = [];
  for await (const item of container.listBlobsFlat({ prefix: 'raw/' })) {
    if (!item.name.includes(`-${writer}-`)) continue;
    const p = parseLogPartition(item.name)!;
    const rows = parseRawLog(await container.getBlobClient(item.name).downloadToBuffer());
    // Every row lies in the partition its blob is named after.
    for (const r of rows) expect([r.environment, r.time.slice(0, 10), r.time.slice(11, 13)]).toEqual([p.env, p.date, p.hour]);
    out.push({ name: item.name, rows: rows });
  }
  return out;
}

function records(n: number, prefix: string, start = new Date('2026-11-26T03:59:58.000Z')): InferenceLogRecord[] {
  return [...syntheticRecords(n, { env: 'production', start, stepMs: 1, seed: 7, idPrefix: prefix })];
}

/**
 * A loopback TCP relay in front of the private Azurite that can hold requests (a Blob service that stops answering
 * for a while), then let them through in order, or cut every connection and refuse new ones (a Blob that goes away).
 */
async function startBlobRelay(targetPort: number) {
  let holding = false;
  let refusing = false;
  const held: Array<() => void> = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (refusing) return client.destroy();
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const sock of [client, upstream]) {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => undefined);
    }
    const toUpstream = (f: () => void) => (holding ? held.push(f) : f());
    client.on('data', (chunk) => toUpstream(() => upstream.write(chunk)));
    client.on('end', () => toUpstream(() => upstream.end()));
    client.on('close', () => toUpstream(() => upstream.destroy()));
    upstream.pipe(client);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    connectionString: azuriteConnectionString(port),
    hold: () => void (holding = true),
    release() {
      holding = false;
      held.splice(0).forEach((f) => f());
    },
    cut() {
      refusing = true;
      held.length = 0;
      sockets.forEach((sock) => sock.destroy());
    },
    close: () =>
      new Promise<void>((r) => {
        sockets.forEach((sock) => sock.destroy());
        server.close(() => r());
      }),
  };
}

async function until(probe: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('InferenceLogger', () => {
  test('log() buffers without I/O; flush() writes CSV micro-batches holding exactly the logged rows', async () => {
    const logger = new InferenceLogger(options());
    // 2,000 ms of records at 1 ms spacing starting 2 s before 04:00: rows of two hour partitions.
    const input = records(3000, 'a');
    const stagingInput = [
      ...syntheticRecords(120, { env: 'staging', start: new Date('2026-11-26T04:10:00Z'), stepMs: 5, seed: 8, idPrefix: 's' }),
    ];
    for (const r of [...input, ...stagingInput]) expect(logger.log(r)).toBe(true);
    expect(logger.stats().written).toBe(0);
    expect(logger.stats().buffered).toBe(3120);

    const stats = await logger.flush();
    expect(stats).toMatchObject({ written: 3120, dropped: 0, buffered: 0, failed_uploads: 0 });

    const blobs = await rawBlobsOf(logger.writerId);
    // Per partition, batches of at most 500 rows: 04h has 1,000 rows → 2 blobs, 03h 2,000 → 4, staging 1.
    expect(blobs.map((b) => b.rows.length).every((n) => n <= 500)).toBe(true);
    expect(blobs.filter((b) => b.name.startsWith('raw/env=production/date=2026-11-26/hour=03/'))).toHaveLength(4);
    expect(blobs.filter((b) => b.name.startsWith('raw/env=production/date=2026-11-26/hour=04/'))).toHaveLength(2);
    expect(blobs.filter((b) => b.name.startsWith('raw/env=staging/date=2026-11-26/hour=04/'))).toHaveLength(1);
    for (const b of blobs) expect(b.name).toMatch(/\/\d{8}T\d{9}Z-w[0-9a-z]+-\d{8}\.csv$/);

    const byId = new Map(blobs.flatMap((b) => b.rows).map((r) => [r.request_id as string, r]));
    expect(byId.size).toBe(3120);
    for (const r of [...input, ...stagingInput]) expect(byId.get(r.request_id)).toEqual(toFlatRow(r));
    // Features are float32 in the raw blob already: exactly what the model saw.
    const first = byId.get('a-0')!;
    FEATURE_NAMES.forEach((f, i) => expect(first[f]).toBe(input[0].features[i]));
  });

  test('a partially filled batch is flushed by time, without flush()', async () => {
    const logger = new InferenceLogger(options({ flushIntervalMs: 100 }));
    for (const r of records(10, 't')) logger.log(r);
    const deadline = Date.now() + 20000;
    while (logger.stats().written < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(logger.stats()).toMatchObject({ written: 10, buffered: 0, batches_written: 1 });
    expect((await rawBlobsOf(logger.writerId)).flatMap((b) => b.rows)).toHaveLength(10);
  });

  test('a Blob outage shorter than the buffer loses nothing and duplicates nothing', async () => {
    const logger = new InferenceLogger(options({ maxBatchRecords: 200, flushIntervalMs: 50 }));
    const input = records(2000, 'o');
    await azurite.stop();
    try {
      for (const r of input.slice(0, 1500)) expect(logger.log(r)).toBe(true);
      const deadline = Date.now() + 30000;
      while (logger.stats().failed_uploads === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(logger.stats().failed_uploads).toBeGreaterThan(0);
      expect(logger.stats().failing).toBe(true);
      expect(logger.stats().written).toBe(0);
      const health = await inferenceLoggerHealthCheck(() => logger).run();
      expect(health.status).toBe('degraded');
    } finally {
      await azurite.restart();
    }
    for (const r of input.slice(1500)) logger.log(r);
    const stats = await logger.flush(60000);
    expect(stats).toMatchObject({ written: 2000, dropped: 0, buffered: 0, failing: false });
    expect(stats.retried).toBeGreaterThan(0);
    const rows = (await rawBlobsOf(logger.writerId)).flatMap((b) => b.rows);
    expect(rows).toHaveLength(2000);
    expect(new Set(rows.map((r) => r.request_id)).size).toBe(2000);
    expect((await inferenceLoggerHealthCheck(() => logger).run()).status).toBe('ok');
  });

  test('a retried upload whose first attempt did reach Blob is written once (same name, If-None-Match)', async () => {
    let calls = 0;
    const logger = new InferenceLogger(
      options({
        upload: async (name, body) => {
          calls++;
          await blobBatchUploader(name, body);
          if (calls === 1) throw new Error('response lost after the blob was written');
        },
      }),
    );
    for (const r of records(300, 'i')) logger.log(r);
    const stats = await logger.flush();
    expect(calls).toBe(2);
    expect(stats).toMatchObject({ written: 300, retried: 300, batches_written: 1, failed_uploads: 1 });
    const blobs = await rawBlobsOf(logger.writerId);
    expect(blobs).toHaveLength(1);
    expect(blobs[0].rows).toHaveLength(300);
  });

  test('memory is bounded: beyond the capacity records are dropped and counted, log() never blocks or throws', async () => {
    const logger = new InferenceLogger(
      options({ maxBufferedRecords: 250, maxBatchRecords: 100, upload: async () => Promise.reject(new Error('Blob is down')) }),
    );
    const results = records(400, 'd').map((r) => logger.log(r));
    expect(results.filter((x) => x)).toHaveLength(250);
    expect(logger.stats()).toMatchObject({ buffered: 250, dropped: 150, capacity: 250 });
    const health = await inferenceLoggerHealthCheck(() => logger).run();
    expect(health).toMatchObject({ status: 'degraded', info: { dropped: 150, buffered: 250 } });
    // Shutdown that cannot reach Blob: what is left is reported as dropped, not silently lost.
    const closed = await logger.close(300);
    expect(closed).toMatchObject({ written: 0, buffered: 0, dropped: 400 });
    expect(logger.log(records(1, 'late')[0])).toBe(false);
  });

  test('close() after a timeout: never-started batches are dropped, an upload that lands late is counted once as written', async () => {
    const relay = await startBlobRelay(azurite.port);
    const restore = setAppEnv({ AzureWebJobsStorage: relay.connectionString, BLOB_TIMEOUT_MS: '20000' });
    try {
      const logger = new InferenceLogger(options({ maxBatchRecords: 100, maxConcurrentUploads: 2 }));
      relay.hold();
      for (const r of records(300, 'late')) expect(logger.log(r)).toBe(true);
      // Two batches are in flight (held by the relay), the third waits for a free slot when close() gives up.
      const closed = await logger.close(300, 100);
      expect(closed).toMatchObject({ written: 0, dropped: 100, buffered: 200 });
      relay.release();
      await until(() => logger.stats().buffered === 0, 15000, 'the held uploads to land');
      expect(logger.stats()).toMatchObject({ written: 200, dropped: 100, buffered: 0, batches_written: 2, failing: false });
      const rows = (await rawBlobsOf(logger.writerId)).flatMap((b) => b.rows);
      expect(rows).toHaveLength(200);
      expect(new Set(rows.map((r) => r.request_id)).size).toBe(200);
    } finally {
      restore();
      await relay.close();
    }
  }, 30000);

  test('close() after a timeout: an upload that fails late is counted once as dropped and not retried', async () => {
    const relay = await startBlobRelay(azurite.port);
    const restore = setAppEnv({ AzureWebJobsStorage: relay.connectionString, BLOB_TIMEOUT_MS: '20000' });
    let uploads = 0;
    let writer: string;
    try {
      const logger = new InferenceLogger(
        options({ maxBatchRecords: 100, upload: (name, body) => (uploads++, blobBatchUploader(name, body)) }),
      );
      relay.hold();
      for (const r of records(100, 'gone')) logger.log(r);
      const closed = await logger.close(200, 100);
      expect(closed).toMatchObject({ written: 0, dropped: 0, buffered: 100 });
      relay.cut(); // Blob goes away: the held upload fails once the SDK has used up its own retries
      await until(() => logger.stats().buffered === 0, 60000, 'the held upload to fail');
      expect(logger.stats()).toMatchObject({ written: 0, dropped: 100, buffered: 0, failed_uploads: 1, retried: 0 });
      await new Promise((r) => setTimeout(r, 300)); // a retry would have been due after retryBaseDelayMs (20 ms)
      expect(uploads).toBe(1);
      writer = logger.writerId;
    } finally {
      restore();
      await relay.close();
    }
    expect(await rawBlobsOf(writer)).toHaveLength(0); // through Azurite directly again
  }, 90000);

  test('a record that breaks the schema is refused synchronously with the reason', () => {
    const logger = new InferenceLogger(options());
    const good = records(1, 'bad')[0];
    expect(() => logger.log({ ...good, features: [1, 2, 3] })).toThrow(LogRecordError);
    expect(() => logger.log({ ...good, environment: 'dev' as never })).toThrow(/environment/);
    expect(() => logger.log({ ...good, time: 'yesterday' })).toThrow(/time/);
    expect(() => logger.log({ ...good, probability: Number.NaN })).toThrow(/probability/);
    expect(logger.stats().buffered).toBe(0);
  });

  test('writer ids differ between loggers, so concurrent processes never write the same blob name', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newWriterId()));
    expect(ids.size).toBe(100);
  });
});
