// What the promotion's HTTP functions share: which backend runs the promotion, who is asking, and the JSON body.
import type { HttpRequest, InvocationContext } from '@azure/functions';
import { BadRequestError } from '../../platform/errors';
import { readJsonBody } from '../../platform/http';
import { workflowBackend } from '../../platform/workflow/backend';
import { durableBackend, inProcessBackend, PromotionBackend } from './service';

/** The backend WORKFLOW_BACKEND names: Durable Functions in Azure, the in-process runner locally (docs/aks.md). */
export function promotionBackend(context: InvocationContext): PromotionBackend {
  const backend = workflowBackend(context);
  return backend.kind === 'durable' ? durableBackend(backend.client) : inProcessBackend(context);
}

/** Who asked: the App Service authentication principal when present, else what the admin caller says, else 'admin'. */
export function caller(request: HttpRequest, bodyName?: unknown): string {
  const principal = request.headers.get('x-ms-client-principal-name');
  if (principal) return principal;
  return typeof bodyName === 'string' && bodyName.trim() ? bodyName.trim().slice(0, 200) : 'admin';
}

/** The promotion routes' bodies carry a name and a comment at most. */
export const PROMOTION_MAX_BODY_BYTES = 16 * 1024;

/** The body as a JSON object under the rules of shared/platform/http.ts; an empty body is `{}`. */
export async function readPromotionBody(request: HttpRequest): Promise<Record<string, unknown>> {
  const body = await readJsonBody(request, { maxBytes: PROMOTION_MAX_BODY_BYTES, allowEmpty: true });
  if (body === undefined) return {};
  if (body && typeof body === 'object' && !Array.isArray(body)) return body as Record<string, unknown>;
  throw new BadRequestError('the body must be a JSON object (or empty)', 'validation_error');
}
