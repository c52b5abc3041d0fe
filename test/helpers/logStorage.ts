// One test file's inference-log storage: a private Azurite with the `inference-logs` container, the app's settings
// pointed at it (small row groups, so a few thousand rows make several), and DuckDB closed at the end.
import type { ContainerClient } from '@azure/storage-blob';
import { CONTAINERS } from '../../shared/platform/blobLayout';
import { getContainerClient } from '../../shared/platform/blobStorage';
import { closeParquetEngine } from '../../shared/logs/parquet';
import { startTestAzurite, TestAzurite } from './azurite';
import { setAppEnv } from './env';

export interface LogStorage {
  readonly azurite: TestAzurite;
  readonly container: ContainerClient;
}

/** Call at the top level of a test file; the returned object is filled in `beforeAll`. */
export function useLogStorage(): LogStorage {
  const storage = {} as { azurite: TestAzurite; container: ContainerClient };
  let restoreEnv: () => void = () => undefined;
  beforeAll(async () => {
    storage.azurite = await startTestAzurite();
    restoreEnv = setAppEnv({ AzureWebJobsStorage: storage.azurite.connectionString, COMPACTION_ROW_GROUP_ROWS: '1000' });
    storage.container = getContainerClient(CONTAINERS.inferenceLogs);
    await storage.container.createIfNotExists();
  });
  afterAll(async () => {
    await closeParquetEngine();
    restoreEnv();
    await storage.azurite?.dispose();
  });
  return storage;
}

// Records go to Blob through the gateway's own logger, as the benchmarks write them.
export { writeLogRecords as logRecords } from '../../tools/bench/syntheticRecords';
