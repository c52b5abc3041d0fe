import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { BadRequestError, toErrorResponse } from '../shared/errors';
import { durableBackend, inProcessBackend, PromotionBackend, startPromotion } from '../shared/promotion/service';

const durableClientInput = df.input.durableClient();

/**
 * Durable in Azure; where the host provides no Durable client (the local host), the in-process runner, so that
 * `npm start` can promote too (docs/aks.md).
 */
export function promotionBackend(context: InvocationContext): PromotionBackend {
  return context.extraInputs.get(durableClientInput) ? durableBackend(df.getClient(context)) : inProcessBackend((m) => context.log(m));
}

/** Who asked: the App Service authentication principal when present, else what the admin caller says, else 'admin'. */
export function caller(request: HttpRequest, bodyName?: unknown): string {
  const principal = request.headers.get('x-ms-client-principal-name');
  if (principal) return principal;
  return typeof bodyName === 'string' && bodyName.trim() ? bodyName.trim().slice(0, 200) : 'admin';
}

export async function readJsonBody(request: HttpRequest): Promise<Record<string, unknown>> {
  const text = await request.text();
  if (!text.trim()) return {};
  try {
    const body = JSON.parse(text);
    if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // fall through to the 400 below
  }
  throw new BadRequestError('the body must be a JSON object (or empty)');
}

/** POST /api/models/{version}/promote — starts the promotion of a model version (202 with the status URL). */
export async function promoteModel(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const body = await readJsonBody(request);
    const input = await startPromotion(promotionBackend(context), request.params.version ?? '', caller(request, body.requestedBy));
    const base = new URL(request.url);
    const statusUrl = `${base.origin}/api/promotions/${input.promotionId}`;
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
  extraInputs: [durableClientInput],
  handler: promoteModel,
});
