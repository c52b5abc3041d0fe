// Blob that accepts connections and never answers (a hung storage front end, a black-holed route): every request
// the app makes gives up after BLOB_TIMEOUT_MS (an aborted request is not retried), so log flushes report the failure and keep their records,
// and the health check answers in time. A real TCP listener on loopback that reads and never writes.
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { azuriteConnectionString } from '../../../tools/devhost/azurite';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { downloadBuffer } from '../../../shared/platform/blobStorage';
import { blobBatchUploader, InferenceLogger, newWriterId } from '../../../shared/logs/inferenceLogger';
import { syntheticRecords } from '../../../tools/bench/syntheticRecords';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

let blackHole: net.Server;
let port: number;
const sockets = new Set<net.Socket>();

beforeAll(async () => {
  blackHole = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.resume(); // read the request, never answer
  });
  await new Promise<void>((resolve) => blackHole.listen(0, '127.0.0.1', resolve));
  port = (blackHole.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => blackHole.close(() => resolve()));
});

describe('Blob requests against an endpoint that never answers', () => {
  it('a download fails after the client-side limit instead of hanging', async () => {
    const restore = setAppEnv({ AzureWebJobsStorage: azuriteConnectionString(port), BLOB_TIMEOUT_MS: '300' });
    try {
      const started = performance.now();
      await expect(downloadBuffer(CONTAINERS.models, 'spam-detector/1.1.0/model.json')).rejects.toThrow(/abort/i);
      // One try of 300 ms (an aborted request is not retried by the SDK); before the limit this hung for minutes.
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      restore();
    }
  });

  it('the inference logger reports failing uploads and keeps every record; all are written once Blob answers', async () => {
    let azurite: TestAzurite | undefined;
    const restore = setAppEnv({ AzureWebJobsStorage: azuriteConnectionString(port), BLOB_TIMEOUT_MS: '300' });
    const logger = new InferenceLogger({
      maxBufferedRecords: 1000,
      maxBatchRecords: 5,
      flushIntervalMs: 50,
      retryBaseDelayMs: 50,
      retryMaxDelayMs: 200,
      maxConcurrentUploads: 4,
      writerId: newWriterId(),
      upload: blobBatchUploader,
    });
    try {
      for (const r of syntheticRecords(10, { env: 'production', start: new Date(), stepMs: 10, seed: 3, idPrefix: 'hole' })) logger.log(r);
      const deadline = Date.now() + 20_000;
      while (!logger.stats().failing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(logger.stats()).toMatchObject({ failing: true, written: 0, dropped: 0, buffered: 10 });
      expect(logger.stats().last_error).toMatch(/abort/i);
      // Storage comes back (another endpoint, as after a failover): the retained records are written, each once.
      azurite = await startTestAzurite();
      setAppEnv({ AzureWebJobsStorage: azurite.connectionString });
      const flushed = await logger.flush(30_000);
      expect(flushed).toMatchObject({ failing: false, written: 10, dropped: 0, buffered: 0 });
    } finally {
      await logger.close(1000);
      restore();
      await azurite?.dispose();
    }
  }, 60_000);
});
