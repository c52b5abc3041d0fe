// Blob trigger on new baselines (`baselines/{model}/{version}/baseline.json`; Event Grid source in Azure, the local
// host polls Azurite). Validates the upload: an invalid one gets a rejection report and the previous baseline stays
// active; a valid one is activated and checked at once in every environment. Deliveries repeat, and the handler is
// idempotent (shared/drift/baselineEvents.ts).
import { app, InvocationContext, trigger } from '@azure/functions';
import * as df from 'durable-functions';
import { CONTAINERS } from '../shared/platform/blobLayout';
import { STORAGE_CONNECTION } from '../shared/platform/config';
import { BaselineEventResult, onBaselineUploaded } from '../shared/drift/baselineEvents';
import { startDriftCheck } from '../shared/drift/driftRuns';
import { workflowBackend } from '../shared/platform/workflow/backend';

export async function baselineEvent(blob: unknown, context: InvocationContext): Promise<BaselineEventResult> {
  const name = typeof context.triggerMetadata?.name === 'string' ? context.triggerMetadata.name : '';
  // The activation is keyed by the sha256 of the uploaded bytes, so it needs those exact bytes (dataType 'binary'):
  // a string or a parsed object would hash differently from the blob and could not be matched to it again.
  if (!(blob instanceof Uint8Array)) {
    throw new TypeError(
      `baselines/${name}: the trigger delivered ${blob === null ? 'null' : typeof blob}, not the blob's bytes (the binding needs dataType 'binary')`,
    );
  }
  const content = Buffer.isBuffer(blob) ? blob : Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  const backend = workflowBackend(context);
  return onBaselineUploaded(name, content, { logger: context, startCheck: (request) => startDriftCheck(backend, request, context) });
}

// app.generic only because the storageBlob options type has no `dataType`; the binding is the same blob trigger.
app.generic('baselineEvent', {
  trigger: trigger.generic({
    type: 'blobTrigger',
    path: `${CONTAINERS.baselines}/{name}`,
    connection: STORAGE_CONNECTION,
    source: 'EventGrid',
    dataType: 'binary',
  }),
  extraInputs: [df.input.durableClient()],
  handler: baselineEvent,
});
