// The JSON request body of every HTTP function that takes one (predict, transform, the promotion routes): one set of
// rules, each broken rule a typed 4xx (shared/platform/errors.ts), never a 500.
import type { HttpRequest } from '@azure/functions';
import { BadRequestError, PayloadTooLargeError, RequestAbortedError, UnsupportedMediaTypeError } from './errors';

export interface JsonBodyOptions {
  /** Larger bodies are refused with 413, by Content-Length before reading when the client declares it. */
  maxBytes: number;
  /** An empty (or whitespace-only) body is `undefined` instead of a 400; it needs no Content-Type. */
  allowEmpty?: boolean;
}

/** `application/json` or any `application/*+json`; a charset parameter, if any, must be UTF-8 (RFC 8259 §8.1). */
export function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  const [media, ...parameters] = value.split(';');
  const type = media.trim().toLowerCase();
  const json = type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
  const charset = parameters.map((p) => /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(p)?.[1].toLowerCase()).find((c) => c !== undefined);
  return json && (charset === undefined || charset === 'utf-8' || charset === 'utf8');
}

/**
 * The parsed JSON body: 415 unless the Content-Type is JSON, 413 above `maxBytes`, 400 `invalid_json` for an empty
 * body (unless allowed), bytes that are not UTF-8, or text that is not JSON.
 */
export async function readJsonBody(request: HttpRequest, { maxBytes, allowEmpty = false }: JsonBodyOptions): Promise<unknown> {
  const contentType = request.headers.get('content-type');
  const isJson = isJsonContentType(contentType);
  // A POST without a body usually has no Content-Type either, so where an empty body is fine the type is judged only
  // once there is a body.
  if (!isJson && !allowEmpty) throw new UnsupportedMediaTypeError(contentType);
  const bytes = await readBodyBytes(request, maxBytes);
  if (bytes.length > 0 && !isJson) throw new UnsupportedMediaTypeError(contentType);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new BadRequestError('the request body is not valid UTF-8', 'invalid_json');
  }
  if (!text.trim()) {
    if (allowEmpty) return undefined;
    throw new BadRequestError('the request body is empty; send a JSON document', 'invalid_json');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new BadRequestError(`the request body is not valid JSON: ${(err as Error).message.slice(0, 200)}`, 'invalid_json');
  }
}

/**
 * The body's bytes, at most `maxBytes`: a larger declared Content-Length is refused before a byte is read, and a
 * body without one (chunked) is read only up to the limit, then the rest is left unread. With a streamed body (the
 * local host; the Azure host with HTTP streaming) an oversized upload is never held in memory.
 */
export async function readBodyBytes(request: HttpRequest, maxBytes: number): Promise<Buffer> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) throw new PayloadTooLargeError(maxBytes);
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const chunk = (await reader.read().catch((err: unknown) => {
      throw new RequestAbortedError(err);
    })) as { done: boolean; value?: Uint8Array };
    if (chunk.done || !chunk.value) break;
    size += chunk.value.byteLength;
    if (size > maxBytes) {
      // Cancelling tells the host the rest is not wanted; the host then closes the connection after the answer.
      await reader.cancel().catch(() => undefined);
      throw new PayloadTooLargeError(maxBytes);
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks);
}
