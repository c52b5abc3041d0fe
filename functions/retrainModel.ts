import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { BadRequestError, withErrorContract } from '../shared/platform/errors';
import { caller, readPromotionBody } from '../shared/lifecycle/promotion/http';
import { retrainingBackend, startRetraining } from '../shared/lifecycle/retraining/service';

/** POST /api/models/retrain — starts a retraining (202 with the status URL); body: optional `cutoff`, `autoApprove`. */
export const retrainModel = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
  const body = await readPromotionBody(request);
  if (body.cutoff !== undefined && typeof body.cutoff !== 'string')
    throw new BadRequestError('cutoff must be an ISO 8601 time', 'validation_error');
  if (body.autoApprove !== undefined && typeof body.autoApprove !== 'boolean')
    throw new BadRequestError('autoApprove must be true or false', 'validation_error');
  const input = await startRetraining(retrainingBackend(context), {
    trigger: 'http',
    requestedBy: caller(request, body.requestedBy),
    ...(body.cutoff !== undefined ? { cutoff: new Date(body.cutoff) } : {}),
    ...(body.autoApprove !== undefined ? { autoApprove: body.autoApprove } : {}),
  });
  const statusUrl = `${new URL(request.url).origin}/api/retrainings/${input.runId}`;
  return {
    status: 202,
    headers: { Location: statusUrl },
    jsonBody: { id: input.runId, cutoff: input.cutoff, autoApprove: input.settings.autoApprove, status: statusUrl },
  };
});

app.http('retrainModel', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'models/retrain',
  extraInputs: [df.input.durableClient()],
  handler: retrainModel,
});
