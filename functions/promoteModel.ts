import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withErrorContract } from '../shared/platform/errors';
import { caller, promotionBackend, readPromotionBody } from '../shared/lifecycle/promotion/http';
import { startPromotion } from '../shared/lifecycle/promotion/service';

/** POST /api/models/{version}/promote — starts the promotion of a model version (202 with the status URL). */
export const promoteModel = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
  const body = await readPromotionBody(request);
  const input = await startPromotion(promotionBackend(context), request.params.version ?? '', caller(request, body.requestedBy));
  const statusUrl = `${new URL(request.url).origin}/api/promotions/${input.promotionId}`;
  return {
    status: 202,
    headers: { Location: statusUrl },
    jsonBody: {
      id: input.promotionId,
      version: input.version,
      status: statusUrl,
      approve: `${statusUrl}/approve`,
      reject: `${statusUrl}/reject`,
    },
  };
});

app.http('promoteModel', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'models/{version}/promote',
  extraInputs: [df.input.durableClient()],
  handler: promoteModel,
});
