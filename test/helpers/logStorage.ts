// One test file's inference-log storage: a private Azurite with the `inference-logs` container, the app's settings
// pointed at it (small row groups, so a few thousand rows make several), and DuckDB closed at the end.
import type { ContainerClient } from '@azure/storage-blob';
import { CONTAINERS } from '../../shared/platform/blobLayout';
import { getContainerClient } from '../../shared/platform/blobStorage';
import { blobBatchUploader, InferenceLogger, InferenceLoggerStats, newWriterId } from '../../shared/logs/inferenceLogger';
import { InferenceLogRecord } from '../../shared/logs/logSchema';
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

/**
 * Log `records` through the gateway's logger (raw blobs of `batchRecords` rows, in the app's storage) and wait until
 * they are written; throws when any record was not.
 */
export async function logRecords(records: readonly InferenceLogRecord[], batchRecords = 250): Promise<InferenceLoggerStats> {
  const logger = new InferenceLogger({
    maxBufferedRecords: 1_000_000,
    maxBatchRecords: batchRecords,
    flushIntervalMs: 60_000,
    retryBaseDelayMs: 20,
    retryMaxDelayMs: 200,
    maxConcurrentUploads: 4,
    writerId: newWriterId(),
    upload: blobBatchUploader,
  });
  for (const r of records) logger.log(r);
  const stats = await logger.flush();
  if (stats.written !== records.length) throw new Error(`logged ${stats.written} of ${records.length}`);
  return stats;
}
