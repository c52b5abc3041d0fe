// Blob trigger on new baselines (`baselines/{model}/{version}/baseline.json`; Event Grid source in Azure, the local
// host polls Azurite). Validates the upload: an invalid one gets a rejection report and the previous baseline stays
// active; a valid one is activated and checked at once in every environment. Deliveries repeat, and the handler is
// idempotent (shared/drift/baselineEvents.ts).
import { app, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { CONTAINERS } from '../shared/blobLayout';
import { getConfig, STORAGE_CONNECTION } from '../shared/config';
import { BaselineEventResult, onBaselineUploaded } from '../shared/drift/baselineEvents';
import { startDriftOrchestration } from '../shared/drift/orchestration';

export async function baselineEvent(blob: unknown, context: InvocationContext): Promise<BaselineEventResult> {
  const name = String(context.triggerMetadata?.name ?? '');
  const content = Buffer.isBuffer(blob) ? blob : Buffer.from(typeof blob === 'string' ? blob : JSON.stringify(blob ?? ''));
  const durable = getConfig().driftOrchestration === 'durable';
  return onBaselineUploaded(name, content, {
    logger: context,
    startCheck: durable ? (request) => startDriftOrchestration(df.getClient(context), request) : undefined,
  });
}

app.storageBlob('baselineEvent', {
  path: `${CONTAINERS.baselines}/{name}`,
  connection: STORAGE_CONNECTION,
  source: 'EventGrid',
  extraInputs: [df.input.durableClient()],
  handler: baselineEvent,
});
