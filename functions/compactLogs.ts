// Blob trigger on new raw inference-log micro-batches (Event Grid source in Azure; the local host polls Azurite).
// Deliveries repeat and run concurrently; the compaction protocol (shared/logs/compaction.ts) makes that harmless.
// The blob's own content is not used: the run lists the hour's raw blobs, so one delivery compacts all of them.
import { app, InvocationContext } from '@azure/functions';
import { CONTAINERS } from '../shared/platform/blobLayout';
import { STORAGE_CONNECTION } from '../shared/platform/config';
import { compactAfterRawBlob, compactionOptionsFromConfig } from '../shared/logs/compaction';

export async function compactLogs(_blob: unknown, context: InvocationContext): Promise<void> {
  const name = typeof context.triggerMetadata?.name === 'string' ? context.triggerMetadata.name : '';
  const blobName = `raw/${name}`;
  const outcome = await compactAfterRawBlob(blobName, compactionOptionsFromConfig({ log: (m) => context.log(m) }));
  if (outcome.ignored) {
    context.log(`ignored ${blobName}: not a raw log blob of the layout`);
    return;
  }
  for (const r of outcome.results) {
    if (r.status !== 'nothing-to-do')
      context.log(
        `${r.partition.env}/${r.partition.date}/${r.partition.hour}: ${r.status}, ${r.rows} rows from ${r.rawBlobs} blobs, ${r.quarantined.length} quarantined`,
      );
  }
  // A failed hour is retried by the next delivery or the sweep; failing the invocation makes the host retry it too.
  if (outcome.errors.length)
    throw new Error(
      `compaction failed for ${outcome.errors.map((e) => `${e.partition.env}/${e.partition.date}/${e.partition.hour}: ${e.error}`).join('; ')}`,
    );
}

app.storageBlob('compactLogs', {
  path: `${CONTAINERS.inferenceLogs}/raw/{name}`,
  connection: STORAGE_CONNECTION,
  source: 'EventGrid',
  handler: compactLogs,
});
