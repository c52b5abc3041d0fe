// End to end on the local host (`npm start` in a child process, its blob watcher standing in for Event Grid):
// raw blobs written by the gateway's logger are compacted by the registered `compactLogs` function, and the window
// reader returns exactly the logged rows.
import { ContainerClient } from '@azure/storage-blob';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../shared/platform/blobStorage';
import { HourPartition, listRawBlobs, readManifest } from '../../../shared/logs/compaction';
import { batchRows } from '../../../shared/logs/logBatch';
import { toFlatRow } from '../../../shared/logs/logSchema';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { syntheticRecords } from '../../../tools/bench/syntheticRecords';
import { readWindow } from '../../../shared/logs/windowReader';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';
import { logRecords } from '../../helpers/logStorage';
import { RunningHost, startHostProcess, waitFor } from '../../helpers/localHost';

let azurite: TestAzurite;
let restoreEnv: () => void;
let container: ContainerClient;
let host: RunningHost | undefined;

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({ AzureWebJobsStorage: azurite.connectionString });
  container = getContainerClient(CONTAINERS.inferenceLogs);
  await container.createIfNotExists();
});

afterAll(async () => {
  await host?.stop();
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
});

test('raw blobs of a closed hour are compacted by the blob-triggered function on the local host', async () => {
  host = await startHostProcess({ env: { AzureWebJobsStorage: azurite.connectionString, LOCAL_BLOB_POLL_MS: '200' } });
  expect(host.output()).toMatch(/compactLogs: blob trigger on inference-logs\/raw\/\{name\}.*EventGrid/);
  expect(host.output()).toMatch(/compactionSweep: timer '0 \*\/15 \* \* \* \*'/);

  // An hour that closed two hours ago by the real clock, as a gateway would have logged it.
  const start = new Date(Math.floor(Date.now() / 3600_000) * 3600_000 - 2 * 3600_000);
  const p: HourPartition = { env: 'production', date: start.toISOString().slice(0, 10), hour: start.toISOString().slice(11, 13) };
  const records = [...syntheticRecords(2000, { env: 'production', start, stepMs: 1500, seed: 42, idPrefix: 'host' })];
  expect((await logRecords(records)).written).toBe(2000);

  await waitFor(
    async () => {
      const m = await readManifest(p, container);
      return m?.manifest.rows === 2000 && (await listRawBlobs(container, p)).length === 0 ? true : undefined;
    },
    60_000,
    'the hour to be compacted by the host',
  );
  const rows: Record<string, unknown>[] = [];
  for await (const b of readWindow('production', start, new Date(start.getTime() + 3600_000))) rows.push(...batchRows(b));
  const byId = (xs: Record<string, unknown>[]) => [...xs].sort((a, b) => String(a.request_id).localeCompare(String(b.request_id)));
  expect(byId(rows)).toEqual(byId(records.map((r) => ({ ...toFlatRow(r) }))));
  expect(host.output()).not.toMatch(/compactLogs failed|poison/);
}, 120_000);
