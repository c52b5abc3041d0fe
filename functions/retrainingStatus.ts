import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withErrorContract } from '../shared/platform/errors';
import { getRetrainingStatus, retrainingBackend } from '../shared/lifecycle/retraining/service';

/** GET /api/retrainings/{id} — where the retraining is, and its record (comparison, gate, promotion) once finished. */
export const retrainingStatus = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: await getRetrainingStatus(retrainingBackend(context), request.params.id ?? ''),
}));

app.http('retrainingStatus', {
  methods: ['GET'],
  authLevel: 'admin',
  route: 'retrainings/{id}',
  extraInputs: [df.input.durableClient()],
  handler: retrainingStatus,
});
