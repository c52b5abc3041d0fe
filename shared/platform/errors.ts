// Typed errors and their one mapping to HTTP. Handlers throw these; `toErrorResponse` turns anything thrown into
// the JSON error contract of every HTTP route ({ error: { code, message } }) without ever exposing a stack trace.
import { HttpResponse, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { ConfigError } from './config';

/** What to say about anything thrown: an Error's message, or the thrown value itself as text (a rejected string, say). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request') {
    super(400, code, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, 'not_found', message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super(409, 'conflict', message);
  }
}

export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, 'payload_too_large', `Request body exceeds the limit of ${limitBytes} bytes`);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  constructor(got: string | null, expected = 'application/json') {
    super(415, 'unsupported_media_type', `Content-Type must be ${expected} (UTF-8), got ${got ? JSON.stringify(got) : 'none'}`);
  }
}

/** A dependency the app calls outside the predict API answered with an error of its own (the Kubernetes API, a gateway under smoke test). */
export class BadGatewayError extends AppError {
  constructor(message: string) {
    super(502, 'bad_gateway', message);
  }
}

/** The client went away (or stalled past the host's timeout) while sending the body: nobody reads the answer. */
export class RequestAbortedError extends AppError {
  constructor(cause: unknown) {
    super(400, 'request_aborted', 'The request body was not received completely');
    this.cause = cause;
  }
}

export class ServiceUnavailableError extends AppError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(503, 'service_unavailable', message, retryAfterSeconds ? { 'Retry-After': String(retryAfterSeconds) } : {});
  }
}

/** A part the app needs is not set up where it runs (as a ConfigError, but not one setting's value). */
export class MisconfiguredError extends AppError {
  constructor(message: string) {
    super(503, 'misconfigured', message);
  }
}

export interface ErrorBody {
  error: { code: string; message: string };
}

/**
 * Headers every HTTP answer carries, error or not: the bodies are JSON (or a report's HTML), and a browser must not
 * sniff them into something else.
 */
export const STANDARD_HEADERS: Readonly<Record<string, string>> = { 'X-Content-Type-Options': 'nosniff' };

/** An error message is at most this long: some repeat parts of the request, which may be up to a megabyte. */
export const MAX_ERROR_MESSAGE_CHARS = 1024;

export function errorResponse(status: number, code: string, message: string, headers: Record<string, string> = {}): HttpResponseInit {
  const bounded = message.length > MAX_ERROR_MESSAGE_CHARS ? `${message.slice(0, MAX_ERROR_MESSAGE_CHARS - 1)}…` : message;
  const body: ErrorBody = { error: { code, message: bounded } };
  return { status, jsonBody: body, headers: { ...headers, ...STANDARD_HEADERS } };
}

/** The single place where thrown values become HTTP responses. */
export function toErrorResponse(err: unknown, context?: InvocationContext): HttpResponseInit {
  if (err instanceof AppError) {
    if (err.status >= 500) context?.warn(`${err.code}: ${err.message}`);
    return errorResponse(err.status, err.code, err.message, err.headers);
  }
  if (err instanceof ConfigError) {
    // The log gets the value; the caller only the setting's name and what it should be (a value may be an
    // internal address).
    context?.error(err.message);
    return errorResponse(503, 'misconfigured', err.publicMessage);
  }
  context?.error('Unhandled error', err);
  return errorResponse(500, 'internal', 'Internal error; see the function logs for details');
}

export type HttpHandler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * An HTTP handler that answers anything it throws with the JSON error contract (toErrorResponse) instead of letting
 * the host turn it into a bare 500, so a handler body can just throw typed errors; every answer gets the
 * STANDARD_HEADERS. Every HTTP function goes through it.
 */
export function withErrorContract(handler: HttpHandler): HttpHandler {
  return async (request, context) => {
    try {
      const response = await handler(request, context);
      // An HttpResponse (the Durable client's check-status answer is one) keeps status, body and headers behind
      // getters that a spread would drop: add the headers to it in place.
      if (response instanceof HttpResponse) {
        for (const [name, value] of Object.entries(STANDARD_HEADERS)) response.headers.set(name, value);
        return response;
      }
      const given = response.headers;
      const headers = given instanceof Headers || Array.isArray(given) ? Object.fromEntries(given) : given;
      return { ...response, headers: { ...headers, ...STANDARD_HEADERS } };
    } catch (err) {
      return toErrorResponse(err, context);
    }
  };
}
