// The KServe V2 client against the real local V2 server (committed ONNX model) and against real sockets that
// misbehave: refused connections, resets, silence, and `{ "error" }` answers. More faults (drip-feed, contract
// violations) in test/unit/serving/kserve/kserveClient.test.ts.
import http from 'node:http';
import net from 'node:net';
import { freePort } from '../../../../tools/devhost/azurite';
import { loadModelBackend, ModelServer, startModelServer } from '../../../../tools/devhost/modelServer';
import { FEATURE_COUNT } from '../../../../shared/serving/features/featureList';
import {
  KServeClient,
  KServeClientOptions,
  KServeResponseError,
  KServeUnavailableError,
} from '../../../../shared/serving/kserve/kserveClient';
import { committedModelDir, COMMITTED_MODEL_VERSION, loadModelDirectory, MODEL_NAME } from '../../../../shared/model/modelArtifacts';
import { toErrorResponse } from '../../../../shared/platform/errors';

let server: ModelServer;
let backend: Awaited<ReturnType<typeof loadModelBackend>>;

beforeAll(async () => {
  backend = await loadModelBackend(committedModelDir());
  server = await startModelServer(backend, { port: 0 });
});

afterAll(async () => {
  await server.close();
  await backend.close();
});

const options = (baseUrl: string, extra: Partial<KServeClientOptions> = {}): KServeClientOptions => ({
  environment: 'production',
  baseUrl,
  modelName: MODEL_NAME,
  timeoutMs: 1000,
  maxRetries: 2,
  retryBudgetRatio: 0.2,
  breakerFailures: 3,
  breakerCooldownMs: 300,
  maxSockets: 8,
  ...extra,
});

const features = (rows: number) => Float32Array.from({ length: rows * FEATURE_COUNT }, (_, i) => (i % 11) / 10);

/** A server that answers each request with the next scripted response (then repeats the last one). */
async function scriptedServer(script: Array<(res: http.ServerResponse, req: http.IncomingMessage) => void>) {
  let n = 0;
  // Only infer POSTs advance the script and count; the client's GET of the model configuration (version lookup)
  // is answered 404.
  const s = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      req.method === 'POST' ? script[Math.min(n++, script.length - 1)](res, req) : json(404, { error: 'no such endpoint' })(res),
    );
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(s.address() as net.AddressInfo).port}`,
    requests: () => n,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
}

const json = (status: number, body: unknown) => (res: http.ServerResponse) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

describe('against the local V2 server', () => {
  it('infers [p_ham, p_spam] per row, round-trips the id and learns the model version', async () => {
    const client = new KServeClient(options(server.url));
    try {
      const x = features(3);
      const result = await client.infer(x, 3, { id: 'abc' });
      const local = await loadModelDirectory(committedModelDir());
      const expected = Array.from(await local.onnx.predict(x));
      await local.onnx.close();
      expect(result.id).toBe('abc');
      expect(result.modelName).toBe(MODEL_NAME);
      expect(result.modelVersion).toBe(COMMITTED_MODEL_VERSION);
      expect(result.probabilities.flat()).toEqual(expected);
      expect(client.knownVersion).toBe(COMMITTED_MODEL_VERSION);
    } finally {
      client.close();
    }
  });

  it('reads metadata and readiness, and reports health with the served versions', async () => {
    const client = new KServeClient(options(server.url));
    try {
      expect(await client.ready()).toBe(true);
      expect((await client.metadata()).versions).toEqual([COMMITTED_MODEL_VERSION]);
      const health = await client.health();
      expect(health.status).toBe('ok');
      expect(health.info).toMatchObject({ versions: [COMMITTED_MODEL_VERSION], breaker: { state: 'closed' } });
    } finally {
      client.close();
    }
  });

  it("a 404 for the model (wrong model name) is the backend not serving it: a 503 with the server's message, a breaker failure", async () => {
    const client = new KServeClient(options(server.url, { modelName: 'no-such-model' }));
    try {
      const err = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KServeResponseError);
      expect(err).toBeInstanceOf(KServeUnavailableError); // so the gateway falls back, or answers 503
      expect((err as KServeResponseError).upstreamStatus).toBe(404);
      const res = toErrorResponse(err);
      expect(res.status).toBe(503);
      expect(res.headers).toHaveProperty('Retry-After');
      expect(res.jsonBody).toEqual({
        error: {
          code: 'service_unavailable',
          message:
            "KServe production backend unavailable: answered 404: model 'no-such-model' is not served here (serving 'spam-detector')",
        },
      });
      expect(client.breaker.snapshot()).toMatchObject({ state: 'closed', consecutive_failures: 1 });
    } finally {
      client.close();
    }
  });

  it('reuses keep-alive connections across calls', async () => {
    const client = new KServeClient(options(server.url, { maxSockets: 1 }));
    const sockets = new Set<unknown>();
    try {
      (client as unknown as { agent: http.Agent }).agent.on('free', (socket: unknown) => sockets.add(socket));
      for (let i = 0; i < 5; i++) await client.infer(features(1), 1);
      expect(sockets.size).toBe(1);
    } finally {
      client.close();
    }
  });
});

describe('model versions as Triton reports them', () => {
  it("resolves Triton's repository version '1' to the version declared in the model configuration", async () => {
    const triton = await loadModelBackend(committedModelDir(), { tritonVersioning: true });
    const tritonServer = await startModelServer(triton, { port: 0 });
    const client = new KServeClient(options(tritonServer.url));
    try {
      const result = await client.infer(features(1), 1);
      expect(result.reportedVersion).toBe('1');
      expect(result.modelVersion).toBe(COMMITTED_MODEL_VERSION);
      expect(client.knownVersion).toBe(COMMITTED_MODEL_VERSION);
      expect((await client.health()).info).toMatchObject({ versions: ['1'], model_version: COMMITTED_MODEL_VERSION });
    } finally {
      client.close();
      await tritonServer.close();
      await triton.close();
    }
  });

  it('treats a bare repository number without a declared version as unknown, not as a model version', async () => {
    const ok = {
      model_name: MODEL_NAME,
      model_version: '1',
      outputs: [{ name: 'probabilities', shape: [1, 2], datatype: 'FP32', data: [0.5, 0.5] }],
    };
    const s = await scriptedServer([json(200, ok)]);
    const client = new KServeClient(options(s.url));
    try {
      const result = await client.infer(features(1), 1);
      expect(result.reportedVersion).toBe('1');
      expect(result.modelVersion).toBeUndefined();
      expect(client.knownVersion).toBeUndefined();
    } finally {
      client.close();
      await s.close();
    }
  });
});

describe('failures', () => {
  it('a refused connection is a 503 KServeUnavailableError after bounded retries', async () => {
    const port = await freePort();
    const client = new KServeClient(options(`http://127.0.0.1:${port}`));
    try {
      const err = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KServeUnavailableError);
      const res = toErrorResponse(err);
      expect(res.status).toBe(503);
      expect((res.jsonBody as { error: { message: string } }).error.message).toMatch(/KServe production backend unavailable: ECONNREFUSED/);
      expect(res.headers).toHaveProperty('Retry-After');
    } finally {
      client.close();
    }
  });

  it('retries a 503 { error } and succeeds when the backend recovers', async () => {
    const ok = {
      model_name: MODEL_NAME,
      model_version: '7',
      outputs: [{ name: 'probabilities', shape: [1, 2], datatype: 'FP32', data: [0.25, 0.75] }],
    };
    const s = await scriptedServer([json(503, { error: 'model is loading' }), json(200, ok)]);
    const client = new KServeClient(options(s.url));
    try {
      const result = await client.infer(features(1), 1);
      expect(result.probabilities).toEqual([[0.25, 0.75]]);
      expect(s.requests()).toBe(2);
    } finally {
      client.close();
      await s.close();
    }
  });

  it("gives up after the retries with the server's message in a 503", async () => {
    const s = await scriptedServer([json(503, { error: 'model is loading' })]);
    const client = new KServeClient(options(s.url, { maxRetries: 1 }));
    try {
      const err = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KServeUnavailableError);
      expect((err as Error).message).toBe('KServe production backend unavailable: 503 model is loading');
      expect(s.requests()).toBe(2);
    } finally {
      client.close();
      await s.close();
    }
  });

  it('the retry budget stops retries from multiplying load during an outage', async () => {
    const s = await scriptedServer([json(503, { error: 'overloaded' })]);
    const client = new KServeClient(options(s.url, { maxRetries: 3, breakerFailures: 1000, retryBudgetRatio: 0.1 }));
    try {
      for (let i = 0; i < 20; i++) await client.infer(features(1), 1).catch(() => undefined);
      // 20 calls; without a budget 80 requests. With ratio 0.1 and a reserve of 3: 20 + 3 + 2 retries.
      expect(s.requests()).toBeLessThanOrEqual(25);
      expect(s.requests()).toBeGreaterThan(20);
    } finally {
      client.close();
      await s.close();
    }
  });

  it('times out a backend that never answers', async () => {
    const sockets: net.Socket[] = [];
    const silent = net.createServer((sock) => sockets.push(sock));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const client = new KServeClient(
      options(`http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`, { timeoutMs: 200, maxRetries: 0 }),
    );
    try {
      const err = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KServeUnavailableError);
      expect((err as Error).message).toMatch(/no answer within 200 ms/);
    } finally {
      client.close();
      sockets.forEach((s) => s.destroy());
      silent.close();
    }
  });

  it('a malformed 200 answer is a 503 (a backend fault), not a crash and not a 502', async () => {
    const s = await scriptedServer([
      json(200, { model_name: MODEL_NAME, outputs: [{ name: 'probabilities', shape: [1, 3], datatype: 'FP32', data: [1, 2, 3] }] }),
    ]);
    const client = new KServeClient(options(s.url));
    try {
      const err = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KServeResponseError);
      expect(err).toBeInstanceOf(KServeUnavailableError);
      expect(toErrorResponse(err).status).toBe(503);
      expect(client.breaker.snapshot().consecutive_failures).toBe(1);
    } finally {
      client.close();
      await s.close();
    }
  });

  it("a 500 { error } from the model is never retried, is a 503 with the server's message, and opens the breaker", async () => {
    const s = await scriptedServer([json(500, { error: 'onnx runtime error 2: invalid input shape' })]);
    const client = new KServeClient(options(s.url, { maxRetries: 2, breakerFailures: 2 }));
    try {
      for (let call = 1; call <= 2; call++) {
        const err = await client.infer(features(1), 1).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KServeResponseError);
        expect(err).toBeInstanceOf(KServeUnavailableError);
        const res = toErrorResponse(err);
        expect(res.status).toBe(503);
        expect(res.jsonBody).toEqual({
          error: {
            code: 'service_unavailable',
            message: 'KServe production backend unavailable: answered 500: onnx runtime error 2: invalid input shape',
          },
        });
        expect(s.requests()).toBe(call); // never retried
      }
      // breakerFailures model errors: the model is broken, the breaker opens and the gateway's fallback answers.
      expect(client.breaker.currentState).toBe('open');
      const fast = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect((fast as Error).message).toMatch(/circuit breaker open/);
      expect(s.requests()).toBe(2);
      expect((await client.health()).info).toMatchObject({ failures: 2, retries: 0, rejected_by_breaker: 1 });
    } finally {
      client.close();
      await s.close();
    }
  });

  it('a 501 is not retried either', async () => {
    const s = await scriptedServer([json(501, { error: 'not implemented' })]);
    const client = new KServeClient(options(s.url));
    try {
      const err = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(KServeResponseError);
      expect((err as KServeResponseError).upstreamStatus).toBe(501);
      expect(s.requests()).toBe(1);
    } finally {
      client.close();
      await s.close();
    }
  });

  it('a 429 (load shedding in front of the model) is retried like a 503', async () => {
    const ok = {
      model_name: MODEL_NAME,
      model_version: '7',
      outputs: [{ name: 'probabilities', shape: [1, 2], datatype: 'FP32', data: [0.5, 0.5] }],
    };
    const s = await scriptedServer([json(429, { error: 'too many requests' }), json(200, ok)]);
    const client = new KServeClient(options(s.url));
    try {
      expect((await client.infer(features(1), 1)).probabilities).toEqual([[0.5, 0.5]]);
      expect(s.requests()).toBe(2);
    } finally {
      client.close();
      await s.close();
    }
  });

  it('the breaker opens after consecutive failures, fails fast, and closes when the backend is back', async () => {
    const port = await freePort();
    const client = new KServeClient(options(`http://127.0.0.1:${port}`, { maxRetries: 0, breakerFailures: 3, breakerCooldownMs: 300 }));
    let revived: ModelServer | undefined;
    try {
      for (let i = 0; i < 3; i++) await client.infer(features(1), 1).catch(() => undefined);
      expect(client.breaker.currentState).toBe('open');
      const fast = await client.infer(features(1), 1).catch((e: unknown) => e);
      expect((fast as Error).message).toMatch(/circuit breaker open/);
      revived = await startModelServer(backend, { port });
      await new Promise((r) => setTimeout(r, 350));
      expect(client.breaker.currentState).toBe('half-open');
      const result = await client.infer(features(1), 1);
      expect(result.probabilities).toHaveLength(1);
      expect(client.breaker.currentState).toBe('closed');
    } finally {
      client.close();
      await revived?.close();
    }
  });
});
