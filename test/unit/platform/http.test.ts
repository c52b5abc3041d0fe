// shared/platform/http.ts `readJsonBody` rules and shared/platform/errors.ts `withErrorContract`, in-process (the
// routes that use them are exercised over real HTTP in test/integration/serving/predict/gateway.test.ts).
import { HttpRequest, InvocationContext } from '@azure/functions';
import { AppError, BadRequestError, withErrorContract } from '../../../shared/platform/errors';
import { readJsonBody } from '../../../shared/platform/http';

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

describe('withErrorContract', () => {
  it('passes answers through and turns typed errors into their JSON error', async () => {
    const ok = withErrorContract(() => Promise.resolve({ status: 201, jsonBody: { ok: true } }));
    expect(await ok(post('{}'), ctx())).toEqual({ status: 201, jsonBody: { ok: true } });
    const bad = withErrorContract(() => Promise.reject(new BadRequestError('nope', 'validation_error')));
    expect(await bad(post('{}'), ctx())).toMatchObject({ status: 400, jsonBody: { error: { code: 'validation_error', message: 'nope' } } });
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
