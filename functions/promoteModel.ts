import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { toErrorResponse } from '../shared/errors';
import { caller, promotionBackend, readJsonBody } from '../shared/promotion/http';
import { startPromotion } from '../shared/promotion/service';

/** POST /api/models/{version}/promote — starts the promotion of a model version (202 with the status URL). */
export async function promoteModel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const body = await readJsonBody(request);
    const input = await startPromotion(promotionBackend(context), request.params.version ?? '', caller(request, body.requestedBy));
    const statusUrl = `${new URL(request.url).origin}/api/promotions/${input.promotionId}`;
    return {
      status: 202,
      headers: { Location: statusUrl },
      jsonBody: { id: input.promotionId, version: input.version, status: statusUrl, approve: `${statusUrl}/approve`, reject: `${statusUrl}/reject` },
    };
  } catch (err) {
    return toErrorResponse(err, context);
  }
}

app.http('promoteModel', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'models/{version}/promote',
  extraInputs: [df.input.durableClient()],
  handler: promoteModel,
});
