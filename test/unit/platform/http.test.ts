// shared/platform/http.ts `readJsonBody` rules and shared/platform/errors.ts `withErrorContract`, in-process (the
// routes that use them are exercised over real HTTP in test/integration/serving/predict/gateway.test.ts).
import { HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import { ConfigError } from '../../../shared/platform/config';
import { AppError, BadRequestError, toErrorResponse, withErrorContract } from '../../../shared/platform/errors';
import { readJsonBody } from '../../../shared/platform/http';
import { parsePredictRequest } from '../../../shared/serving/predict/requestSchema';

const post = (body: string | undefined, headers: Record<string, string> = {}) =>
  new HttpRequest({ method: 'POST', url: 'http://localhost/api/x', headers, ...(body !== undefined ? { body: { string: body } } : {}) });
const ctx = () => new InvocationContext({ functionName: 'test', logHandler: () => undefined });
const failure = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => e as AppError,
  );

describe('readJsonBody', () => {
  it('accepts application/json with a charset and any application/*+json', async () => {
    expect(await readJsonBody(post('{"a":1}', { 'content-type': 'Application/JSON; charset=utf-8' }), { maxBytes: 100 })).toEqual({ a: 1 });
    expect(await readJsonBody(post('[1]', { 'content-type': 'application/merge-patch+json' }), { maxBytes: 100 })).toEqual([1]);
  });

  it('refuses JSON declared in another charset with 415 naming it (RFC 8259: JSON is UTF-8)', async () => {
    const utf16 = await failure(readJsonBody(post('{"a":1}', { 'content-type': 'application/json; charset=utf-16' }), { maxBytes: 100 }));
    expect(utf16).toMatchObject({ status: 415, code: 'unsupported_media_type' });
    expect(utf16!.message).toMatch(/UTF-8\), got "application\/json; charset=utf-16"/);
    expect(await readJsonBody(post('{"a":1}', { 'content-type': 'application/json; charset="UTF-8"' }), { maxBytes: 100 })).toEqual({
      a: 1,
    });
  });

  it('counts bytes, not characters, against maxBytes', async () => {
    const body = JSON.stringify('é'.repeat(30)); // 32 characters, 62 bytes
    expect(await failure(readJsonBody(post(body, { 'content-type': 'application/json' }), { maxBytes: 40 }))).toMatchObject({
      status: 413,
    });
    expect(await readJsonBody(post(body, { 'content-type': 'application/json' }), { maxBytes: 62 })).toBe('é'.repeat(30));
  });

  it('an empty body: 400 by default; undefined with allowEmpty, even without a content type', async () => {
    expect(await failure(readJsonBody(post('', { 'content-type': 'application/json' }), { maxBytes: 100 }))).toMatchObject({
      status: 400,
      code: 'invalid_json',
    });
    expect(await readJsonBody(post(undefined), { maxBytes: 100, allowEmpty: true })).toBeUndefined();
    expect(await readJsonBody(post('  \n', { 'content-type': 'application/json' }), { maxBytes: 100, allowEmpty: true })).toBeUndefined();
    // allowEmpty does not waive the type of a body that is there
    expect(await failure(readJsonBody(post('{}'), { maxBytes: 100, allowEmpty: true }))).toMatchObject({ status: 415 });
  });
});

describe('readJsonBody limits before reading', () => {
  /** A request whose body stream fails the test if it is read past `readable` bytes. */
  function streamed(headers: Record<string, string>, chunks: number, chunkBytes: number) {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled === chunks) return controller.close();
        pulled += 1;
        controller.enqueue(new Uint8Array(chunkBytes).fill(0x20));
      },
    });
    const nativeRequest = new Request('http://localhost/api/x', { method: 'POST', headers, body, duplex: 'half' });
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/x', nativeRequest } as never);
    return { request, pulled: () => pulled };
  }

  it('refuses a Content-Length over the limit without reading a byte', async () => {
    const { request, pulled } = streamed({ 'content-type': 'application/json', 'content-length': '5000000' }, 100, 50_000);
    expect(await failure(readJsonBody(request, { maxBytes: 1000 }))).toMatchObject({ status: 413, code: 'payload_too_large' });
    // A web stream fills its queue (one chunk) on its own; the reader asked for nothing.
    expect(pulled()).toBeLessThanOrEqual(1);
  });

  it('stops reading a body without Content-Length at the limit', async () => {
    const { request, pulled } = streamed({ 'content-type': 'application/json' }, 1000, 1000);
    expect(await failure(readJsonBody(request, { maxBytes: 4500 }))).toMatchObject({ status: 413 });
    expect(pulled()).toBeLessThan(10);
  });

  it('a body that breaks off is a typed 400, not an unhandled error', async () => {
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('aborted'));
      },
    });
    const nativeRequest = new Request('http://localhost/api/x', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    });
    const request = new HttpRequest({ method: 'POST', url: 'http://localhost/api/x', nativeRequest } as never);
    expect(await failure(readJsonBody(request, { maxBytes: 100 }))).toMatchObject({ status: 400, code: 'request_aborted' });
  });
});

describe('error answers', () => {
  it('carry nosniff and stay small however large the request', () => {
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`unknown_key_${i}_${'x'.repeat(40)}`, 1]));
    let caught: unknown;
    try {
      parsePredictRequest({ subject: 's', from: 'a@b.c', to: 'd@e.f', body: 'b', ...many }, 10);
    } catch (err) {
      caught = err;
    }
    const res = toErrorResponse(caught);
    expect(res.status).toBe(400);
    expect(res.headers).toMatchObject({ 'X-Content-Type-Options': 'nosniff' });
    const message = (res.jsonBody as { error: { message: string } }).error.message;
    expect(message).toMatch(/unexpected keys: "unknown_key_0_x+", .* and 19995 more/);
    expect(message.length).toBeLessThan(1024);
  });

  it('cut a very long name short and bound any message', () => {
    let caught: unknown;
    try {
      parsePredictRequest({ instances: [], ['k'.repeat(100_000)]: 1 }, 10);
    } catch (err) {
      caught = err;
    }
    expect(JSON.stringify(toErrorResponse(caught).jsonBody).length).toBeLessThan(300);
    const huge = toErrorResponse(new BadRequestError('m'.repeat(50_000)));
    expect((huge.jsonBody as { error: { message: string } }).error.message.length).toBeLessThanOrEqual(1024);
  });

  it('a 503 for a bad setting names it without repeating its value', () => {
    const logged: unknown[][] = [];
    const context = new InvocationContext({ functionName: 'test', logHandler: (_level, ...args) => logged.push(args) });
    const res = toErrorResponse(new ConfigError('KSERVE_PRODUCTION_URL', 'http://10.0.3.7:8080/internal', 'an absolute URL'), context);
    expect(res.status).toBe(503);
    const body = JSON.stringify(res.jsonBody);
    expect(body).toMatch(/KSERVE_PRODUCTION_URL/);
    expect(body).not.toMatch(/10\.0\.3\.7/);
    expect(JSON.stringify(logged)).toMatch(/10\.0\.3\.7/);
  });
});

describe('withErrorContract', () => {
  it('passes answers through and turns typed errors into their JSON error', async () => {
    const ok = withErrorContract(() => Promise.resolve({ status: 201, jsonBody: { ok: true } }));
    expect(await ok(post('{}'), ctx())).toEqual({ status: 201, jsonBody: { ok: true }, headers: { 'X-Content-Type-Options': 'nosniff' } });
    const bad = withErrorContract(() => Promise.reject(new BadRequestError('nope', 'validation_error')));
    expect(await bad(post('{}'), ctx())).toMatchObject({ status: 400, jsonBody: { error: { code: 'validation_error', message: 'nope' } } });
  });

  it('keeps an HttpResponse whole (a Durable check-status answer is one) and a Headers object too', async () => {
    const status = new HttpResponse({ status: 202, jsonBody: { id: 'run-1' }, headers: { Location: 'http://host/status/run-1' } });
    const res = (await withErrorContract(() => Promise.resolve(status))(post('{}'), ctx())) as HttpResponse;
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ id: 'run-1' });
    expect(res.headers.get('location')).toBe('http://host/status/run-1');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const fromHeaders = await withErrorContract(() => Promise.resolve({ status: 200, headers: new Headers({ 'Retry-After': '5' }) }))(
      post('{}'),
      ctx(),
    );
    expect(fromHeaders.headers).toEqual({ 'retry-after': '5', 'X-Content-Type-Options': 'nosniff' });
  });

  it('an unexpected error is a 500 JSON error without the stack, logged to the invocation', async () => {
    const logged: unknown[][] = [];
    const context = new InvocationContext({ functionName: 'test', logHandler: (_level, ...args) => logged.push(args) });
    const res = await withErrorContract(() => Promise.reject(new TypeError('x is undefined')))(post('{}'), context);
    expect(res).toMatchObject({ status: 500, jsonBody: { error: { code: 'internal' } } });
    expect(JSON.stringify(res.jsonBody)).not.toMatch(/x is undefined|at .*:\d+/);
    expect(logged.length).toBeGreaterThan(0);
  });
});
