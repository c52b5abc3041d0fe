// The HTTP envelope of the gateway's POST endpoints: the request id, echoed on every answer. The JSON body itself
// is read by shared/platform/http.ts `readJsonBody`, under the same rules as every other route.
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { withErrorContract } from '../../platform/errors';

/** What a request id may look like: it is echoed, logged and used in blob names. */
export const REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** `X-Request-ID` when it is a sane token (it is echoed and logged), otherwise a new UUID. */
export function requestIdOf(request: HttpRequest): string {
  const given = request.headers.get('x-request-id');
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

/**
 * Run a gateway POST handler: the request id is fixed first, so that every answer — success or error — carries it
 * in `X-Request-ID`; thrown errors become the JSON error contract (withErrorContract).
 */
export async function handleJsonPost(
  request: HttpRequest,
  context: InvocationContext,
  work: (requestId: string) => Promise<unknown>,
): Promise<HttpResponseInit> {
  const requestId = requestIdOf(request);
  const res = await withErrorContract(async () => ({ status: 200, jsonBody: await work(requestId) }))(request, context);
  return { ...res, headers: { ...(res.headers as Record<string, string> | undefined), 'X-Request-ID': requestId } };
}
