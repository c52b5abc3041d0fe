// What the promotion's HTTP functions share: which backend runs the promotion, who is asking, and the JSON body.
import type { HttpRequest, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { BadRequestError } from '../errors';
import { durableBackend, inProcessBackend, PromotionBackend } from './service';

/**
 * Durable Functions where the host provides a Durable client (Azure, Core Tools); the in-process runner where it
 * does not (the local host of `npm start`), so that promotions work there too (docs/aks.md).
 */
export function promotionBackend(context: InvocationContext): PromotionBackend {
  const clientInput = context.options.extraInputs.find((input) => input.type === 'durableClient');
  return clientInput && context.extraInputs.get(clientInput) ? durableBackend(df.getClient(context)) : inProcessBackend((m) => context.log(m));
}

/** Who asked: the App Service authentication principal when present, else what the admin caller says, else 'admin'. */
export function caller(request: HttpRequest, bodyName?: unknown): string {
  const principal = request.headers.get('x-ms-client-principal-name');
  if (principal) return principal;
  return typeof bodyName === 'string' && bodyName.trim() ? bodyName.trim().slice(0, 200) : 'admin';
}

/** The body as a JSON object; an empty body is `{}`. */
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
