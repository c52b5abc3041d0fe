import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { withErrorContract } from '../shared/platform/errors';
import { getPromotionStatus } from '../shared/lifecycle/promotion/service';
import { promotionBackend } from '../shared/lifecycle/promotion/http';

/** GET /api/promotions/{id} — where the promotion is, and its record once finished. */
export const promotionStatus = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: await getPromotionStatus(promotionBackend(context), request.params.id ?? ''),
}));

app.http('promotionStatus', {
  methods: ['GET'],
  authLevel: 'admin',
  route: 'promotions/{id}',
  extraInputs: [df.input.durableClient()],
  handler: promotionStatus,
});
