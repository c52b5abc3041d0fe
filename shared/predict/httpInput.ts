// The HTTP envelope of the gateway's POST endpoints: content type, body size, JSON, request id. Everything here
// fails with a typed 4xx (shared/errors.ts), never a 500.
import { randomUUID } from 'node:crypto';
import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { BadRequestError, PayloadTooLargeError, toErrorResponse, UnsupportedMediaTypeError } from '../errors';

const REQUEST_ID = /^[A-Za-z0-9._:@\-]{1,128}$/;

/** `X-Request-ID` when it is a sane token (it is echoed and logged), otherwise a new UUID. */
export function requestIdOf(request: HttpRequest): string {
  const given = request.headers.get('x-request-id');
  return given && REQUEST_ID.test(given) ? given : randomUUID();
}

function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  const type = value.split(';', 1)[0].trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/** Read and parse a JSON body of at most `maxBytes`. */
export async function readJsonBody(request: HttpRequest, maxBytes: number): Promise<unknown> {
  const contentType = request.headers.get('content-type');
  if (!isJsonContentType(contentType)) throw new UnsupportedMediaTypeError(contentType);
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  const bytes = Buffer.from(await request.arrayBuffer());
  if (bytes.length > maxBytes) throw new PayloadTooLargeError(maxBytes);
  if (bytes.length === 0) throw new BadRequestError('the request body is empty; send a JSON email', 'invalid_json');
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BadRequestError('the request body is not valid UTF-8', 'invalid_json');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`the request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`, 'invalid_json');
  }
}

/**
 * Run a gateway POST handler: the request id is fixed first, so that every answer — success or error — carries it
 * in `X-Request-ID`; thrown errors become the JSON error contract (toErrorResponse).
 */
export async function handleJsonPost(
  request: HttpRequest,
  context: InvocationContext,
  work: (requestId: string) => Promise<unknown>,
): Promise<HttpResponseInit> {
  const requestId = requestIdOf(request);
  const headers = { 'X-Request-ID': requestId };
  try {
    return { status: 200, jsonBody: await work(requestId), headers };
  } catch (err) {
    const res = toErrorResponse(err, context);
    return { ...res, headers: { ...(res.headers as Record<string, string>), ...headers } };
  }
}
