import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { NotFoundError, withErrorContract } from '../shared/platform/errors';
import { decidePromotion } from '../shared/lifecycle/promotion/service';
import { caller, promotionBackend, readPromotionBody } from '../shared/lifecycle/promotion/http';

/** POST /api/promotions/{id}/approve | reject — the approval event the promotion waits for. */
export const promotionDecision = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
  const decision = request.params.decision?.toLowerCase();
  if (decision !== 'approve' && decision !== 'reject')
    throw new NotFoundError(`no action '${request.params.decision}' (approve or reject)`);
  const body = await readPromotionBody(request);
  const id = request.params.id ?? '';
  await decidePromotion(promotionBackend(context), id, {
    approved: decision === 'approve',
    by: caller(request, body.by),
    at: new Date().toISOString(),
    ...(typeof body.comment === 'string' ? { comment: body.comment.slice(0, 1000) } : {}),
  });
  return { status: 202, jsonBody: { id, decision, status: `${new URL(request.url).origin}/api/promotions/${id}` } };
});

app.http('promotionDecision', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'promotions/{id}/{decision:alpha}',
  extraInputs: [df.input.durableClient()],
  handler: promotionDecision,
});
