import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { getDriftRunStatus } from '../shared/drift/driftRuns';
import { withErrorContract } from '../shared/platform/errors';
import { workflowBackend } from '../shared/platform/workflow/backend';

/** GET /api/drift/runs/{id} — where a drift run is, and its summary once finished (from its stored report after restarts). */
export const driftRunStatus = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: await getDriftRunStatus(workflowBackend(context), request.params.id ?? ''),
}));

app.http('driftRunStatus', {
  methods: ['GET'],
  authLevel: 'admin',
  route: 'drift/runs/{id}',
  extraInputs: [df.input.durableClient()],
  handler: driftRunStatus,
});
