// The KServe V2 client against a real HTTP backend on loopback that misbehaves in one way at a time: drip-feeding
// its answer, never answering, logits instead of probabilities, the wrong shape or datatype, a body that is not
// JSON, a 500, another request id or model. Each fault must give the typed backend error (KServeUnavailableError,
// so the gateway falls back or answers 503) within the deadline (KSERVE_TIMEOUT_MS) plus a small margin, count
// against the circuit breaker so that it opens after `breakerFailures` calls, and never reach a client as a 200
// or a 502. The last part runs the same faults through the gateway's PredictService.
import http from 'node:http';
import net from 'node:net';
import { FEATURE_COUNT } from '../../../../shared/serving/features/featureList';
import type { Config } from '../../../../shared/platform/config';
import { toErrorResponse } from '../../../../shared/platform/errors';
import {
  KServeClient,
  KServeClientOptions,
  KServeResponseError,
  KServeUnavailableError,
} from '../../../../shared/serving/kserve/kserveClient';
import { committedModelDir, COMMITTED_MODEL_VERSION, MODEL_NAME } from '../../../../shared/model/modelArtifacts';
import type { FeatureStore, SenderLookup } from '../../../../shared/serving/featureStore/featureStore';
import { loadServingModel, ServingModel } from '../../../../shared/serving/predict/environmentModels';
import { PredictService, SinglePredictResponse } from '../../../../shared/serving/predict/predictService';
import { parsePredictRequest } from '../../../../shared/serving/predict/requestSchema';

const TIMEOUT_MS = 400;
/**
 * Timer granularity, event-loop latency of a busy test machine (CI runs two test files at once on two cores), and the
 * error's own bookkeeping. Generous: without the deadline a drip-fed answer took 42 s, which no margin hides.
 */
const MARGIN_MS = 1500;
const BREAKER_FAILURES = 3;

type Mode =
  | 'good'
  | 'goodNoId'
  | 'goodFp64Nested'
  | 'drip'
  | 'dripHeaders'
  | 'hang'
  | 'logits'
  | 'shapeN1'
  | 'shapeN3'
  | 'shapeWrongRows'
  | 'datatypeInt'
  | 'datatypeBytes'
  | 'rowSum'
  | 'negative'
  | 'nanLiteral'
  | 'strings'
  | 'nestedWrong'
  | 'nonJson200'
  | 'emptyBody200'
  | 'jsonArray200'
  | 'noOutputs'
  | 'wrongOutputName'
  | 'err500'
  | 'err404'
  | 'err400'
  | 'wrongId'
  | 'wrongModel'
  | 'versionNumber'
  | 'resetMidBody';

interface FaultServer {
  url: string;
  mode: Mode;
  /** Infer POSTs received. */
  readonly requests: number;
  close(): Promise<void>;
}

/** A V2 backend on port 0 whose infer answers follow `mode`; any GET (model config lookups) is a 404. */
async function startFaultServer(initial: Mode): Promise<FaultServer> {
  const state = { mode: initial, requests: 0 };
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        const text = typeof body === 'string' ? body : JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      };
      if (req.method !== 'POST' || !req.url?.endsWith('/infer')) return send(404, { error: 'no such endpoint' });
      state.requests++;
      const request = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: string; inputs: { shape: number[] }[] };
      const n = request.inputs[0].shape[0];
      const rows = (row: unknown[]) => Array.from({ length: n }, () => row).flat();
      const answer = (extra: Record<string, unknown> = {}, output: Record<string, unknown> = {}) => ({
        model_name: MODEL_NAME,
        ...(request.id !== undefined ? { id: request.id } : {}),
        outputs: [{ name: 'probabilities', shape: [n, 2], datatype: 'FP32', data: rows([0.25, 0.75]), ...output }],
        ...extra,
      });
      switch (state.mode) {
        case 'good':
          return send(200, answer());
        case 'goodNoId': {
          const { id: _id, ...rest } = answer();
          return send(200, rest);
        }
        case 'goodFp64Nested':
          return send(200, answer({}, { datatype: 'FP64', data: Array.from({ length: n }, () => [0.25, 0.75]) }));
        case 'drip':
        case 'dripHeaders': {
          // One byte every 50 ms: the body would take seconds; an idle-socket timeout never fires.
          const text = JSON.stringify(answer());
          if (state.mode === 'drip') res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          else res.socket?.write('HTTP/1.1 200 OK\r\n');
          let i = 0;
          const t = setInterval(() => {
            if (res.destroyed || res.socket?.destroyed || i >= text.length) {
              clearInterval(t);
              timers.delete(t);
              return;
            }
            if (state.mode === 'drip') res.write(text[i++]);
            else res.socket?.write(`X-Drip-${i++}: 1\r\n`);
          }, 50);
          timers.add(t);
          return;
        }
        case 'hang':
          return; // headers never come
        case 'logits':
          return send(200, answer({}, { data: rows([-3.2, 7.5]) }));
        case 'shapeN1':
          return send(200, answer({}, { shape: [n, 1], data: rows([0.75]) }));
        case 'shapeN3':
          return send(200, answer({}, { shape: [n, 3], data: rows([0.2, 0.3, 0.5]) }));
        case 'shapeWrongRows':
          return send(200, answer({}, { shape: [n + 1, 2], data: Array.from({ length: n + 1 }, () => [0.25, 0.75]).flat() }));
        case 'datatypeInt':
          return send(200, answer({}, { datatype: 'INT64', data: rows([0, 1]) }));
        case 'datatypeBytes':
          return send(200, answer({}, { datatype: 'BYTES', data: rows(['0.25', '0.75']) }));
        case 'rowSum':
          return send(200, answer({}, { data: rows([0.5, 0.6]) }));
        case 'negative':
          return send(200, answer({}, { data: rows([1.2, -0.2]) }));
        case 'nanLiteral':
          return send(200, JSON.stringify(answer()).replace('0.25', 'NaN'));
        case 'strings':
          return send(200, answer({}, { data: rows(['0.25', '0.75']) }));
        case 'nestedWrong':
          return send(200, answer({}, { data: Array.from({ length: n }, () => [[0.25], [0.75]]) }));
        case 'nonJson200':
          return send(200, '<html>upstream says hello</html>');
        case 'emptyBody200':
          return send(200, '');
        case 'jsonArray200':
          return send(200, [answer()]);
        case 'noOutputs':
          return send(200, { model_name: MODEL_NAME, id: request.id });
        case 'wrongOutputName':
          return send(200, answer({}, { name: 'logits' }));
        case 'err500':
          return send(500, { error: 'onnx runtime error 6: non-zero status code' });
        case 'err404':
          return send(404, { error: `model '${MODEL_NAME}' is not found` });
        case 'err400':
          return send(400, { error: 'unexpected shape for input features' });
        case 'wrongId':
          return send(200, answer({ id: 'someone-elses-request' }));
        case 'wrongModel':
          return send(200, answer({ model_name: 'other-model' }));
        case 'versionNumber':
          return send(200, answer({ model_version: 1 }));
        case 'resetMidBody': {
          const text = JSON.stringify(answer());
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
          res.write(text.slice(0, 20));
          setTimeout(() => res.socket?.destroy(), 10);
          return;
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: Mode) {
      state.mode = m;
    },
    get requests() {
      return state.requests;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const t of timers) clearInterval(t);
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

const options = (baseUrl: string, extra: Partial<KServeClientOptions> = {}): KServeClientOptions => ({
  environment: 'production',
  baseUrl,
  modelName: MODEL_NAME,
  timeoutMs: TIMEOUT_MS,
  maxRetries: 2,
  retryBudgetRatio: 0.2,
  breakerFailures: BREAKER_FAILURES,
  breakerCooldownMs: 60_000,
  maxSockets: 8,
  ...extra,
});

const features = (rows: number) => Float32Array.from({ length: rows * FEATURE_COUNT }, (_, i) => (i % 7) / 10);

async function timed<T>(p: Promise<T>): Promise<{ value: T | undefined; error: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    const value = await p;
    return { value, error: undefined, ms: performance.now() - t0 };
  } catch (error) {
    return { value: undefined, error, ms: performance.now() - t0 };
  }
}

let fault: FaultServer;

beforeAll(async () => {
  fault = await startFaultServer('good');
});

afterAll(async () => {
  await fault.close();
});

describe('valid V2 answers are accepted', () => {
  it.each<[Mode, string]>([
    ['good', 'flat FP32 with the id echoed'],
    ['goodNoId', 'no id echoed (tolerated)'],
    ['goodFp64Nested', 'FP64, nested row-major data'],
  ])('%s: %s', async (mode) => {
    fault.mode = mode;
    const client = new KServeClient(options(fault.url));
    try {
      const result = await client.infer(features(3), 3, { id: 'req-1' });
      expect(result.probabilities).toEqual([
        [0.25, 0.75],
        [0.25, 0.75],
        [0.25, 0.75],
      ]);
      expect(client.breaker.snapshot()).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    } finally {
      client.close();
    }
  });
});

/** Faults the backend commits on every call, with what the error message must say. */
const FAULTS: [Mode, RegExp][] = [
  ['drip', /response not complete within 400 ms/],
  ['dripHeaders', /response not complete within 400 ms|no answer within 400 ms/],
  ['hang', /no answer within 400 ms/],
  ['resetMidBody', /response interrupted|closed before the response was complete/],
  ['logits', /row 0 holds -3.2, not a probability/],
  ['shapeN1', /shape \[2,1\], expected \[2, 2\]/],
  ['shapeN3', /shape \[2,3\], expected \[2, 2\]/],
  ['shapeWrongRows', /shape \[3,2\], expected \[2, 2\]/],
  ['datatypeInt', /datatype "INT64", expected FP32 or FP64/],
  ['datatypeBytes', /datatype "BYTES", expected FP32 or FP64/],
  ['rowSum', /row 0 sums to 1.1, not 1/],
  ['negative', /row 0 holds 1.2, not a probability/],
  ['nanLiteral', /answered 200: response is not JSON/],
  ['strings', /row 0 holds "0.25", not a probability/],
  ['nestedWrong', /nested data does not follow the shape \[2, 2\]/],
  ['nonJson200', /answered 200: response is not JSON: "<html>upstream says hello<\/html>"/],
  ['emptyBody200', /answered 200: response is not JSON: \(empty body\)/],
  ['jsonArray200', /answered 200: response is not a JSON object/],
  ['noOutputs', /no 'outputs' array/],
  ['wrongOutputName', /no 'probabilities' output/],
  ['err500', /answered 500: onnx runtime error 6: non-zero status code/],
  ['err404', /answered 404: model 'spam-detector' is not found/],
  ['wrongId', /response id "someone-elses-request" is not the request id "req-7"/],
  ['wrongModel', /response is from model "other-model", not 'spam-detector'/],
  ['versionNumber', /model_version 1 is not a string/],
];

describe('each backend fault is the typed backend error, within the deadline, and opens the breaker', () => {
  it.each(FAULTS)('%s', async (mode, message) => {
    fault.mode = mode;
    const client = new KServeClient(options(fault.url));
    try {
      for (let call = 1; call <= BREAKER_FAILURES; call++) {
        const { value, error, ms } = await timed(client.infer(features(2), 2, { id: 'req-7' }));
        expect(value).toBeUndefined();
        expect(error).toBeInstanceOf(KServeUnavailableError);
        expect((error as Error).message).toMatch(/^KServe production backend unavailable: /);
        expect((error as Error).message).toMatch(message);
        expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
        const res = toErrorResponse(error);
        expect(res.status).toBe(503);
        expect((res.jsonBody as { error: { code: string } }).error.code).toBe('service_unavailable');
        expect(res.headers).toHaveProperty('Retry-After');
        expect(client.breaker.currentState).toBe(call < BREAKER_FAILURES ? 'closed' : 'open');
      }
      // Open: the next call fails fast, without touching the backend, with Retry-After = the cooldown left.
      const before = fault.requests;
      const fast = await timed(client.infer(features(2), 2, { id: 'req-7' }));
      expect(fast.error).toBeInstanceOf(KServeUnavailableError);
      expect((fast.error as Error).message).toMatch(/circuit breaker open/);
      expect(fast.ms).toBeLessThan(TIMEOUT_MS); // no socket: faster than any try could be
      expect(fault.requests).toBe(before);
      expect(toErrorResponse(fast.error).headers).toEqual({ 'Retry-After': '60', 'X-Content-Type-Options': 'nosniff' });
    } finally {
      client.close();
    }
  });

  it('a contract violation is never retried (the answer would be the same); a drip is cut at the deadline, retries included', async () => {
    fault.mode = 'logits';
    const client = new KServeClient(options(fault.url, { maxRetries: 5 }));
    try {
      const before = fault.requests;
      await client.infer(features(1), 1).catch(() => undefined);
      expect(fault.requests - before).toBe(1);
      fault.mode = 'drip';
      const { error, ms } = await timed(client.infer(features(1), 1));
      expect(error).toBeInstanceOf(KServeUnavailableError);
      expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 5);
      expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS);
    } finally {
      client.close();
    }
  });

  it('a drip-fed 20 s answer holds a call for the deadline only, also with KSERVE_TIMEOUT_MS=1000', async () => {
    fault.mode = 'drip';
    const client = new KServeClient(options(fault.url, { timeoutMs: 1000 }));
    try {
      const { error, ms } = await timed(client.infer(features(1), 1));
      expect(error).toBeInstanceOf(KServeUnavailableError);
      expect((error as Error).message).toMatch(/response not complete within 1000 ms/);
      expect(ms).toBeLessThan(1000 + MARGIN_MS);
    } finally {
      client.close();
    }
  });

  it('the half-open probe meets the same fault and re-opens the breaker; a valid answer closes it', async () => {
    fault.mode = 'nonJson200';
    const client = new KServeClient(options(fault.url, { breakerCooldownMs: 200 }));
    try {
      for (let i = 0; i < BREAKER_FAILURES; i++) await client.infer(features(1), 1).catch(() => undefined);
      expect(client.breaker.currentState).toBe('open');
      await new Promise((r) => setTimeout(r, 220));
      expect(client.breaker.currentState).toBe('half-open');
      await expect(client.infer(features(1), 1)).rejects.toBeInstanceOf(KServeResponseError);
      expect(client.breaker.snapshot()).toMatchObject({ state: 'open', opens: 2 });
      fault.mode = 'good';
      await new Promise((r) => setTimeout(r, 220));
      expect((await client.infer(features(1), 1)).probabilities).toEqual([[0.25, 0.75]]);
      expect(client.breaker.snapshot()).toMatchObject({ state: 'closed', consecutive_failures: 0 });
    } finally {
      client.close();
    }
  });
});

describe('a 4xx refusing our request', () => {
  it('is the typed error (503 or fallback, never a 502), not retried, and neutral for the breaker', async () => {
    fault.mode = 'err400';
    const client = new KServeClient(options(fault.url));
    try {
      const before = fault.requests;
      for (let i = 0; i < BREAKER_FAILURES * 2; i++) {
        const err = await client.infer(features(1), 1).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(KServeResponseError);
        expect(err).toBeInstanceOf(KServeUnavailableError);
        expect((err as KServeResponseError).upstreamStatus).toBe(400);
        expect(toErrorResponse(err).status).toBe(503);
      }
      expect(fault.requests - before).toBe(BREAKER_FAILURES * 2);
      expect(client.breaker.snapshot()).toMatchObject({ state: 'closed', consecutive_failures: 0 });
      expect((await client.health()).info).toMatchObject({ failures: 0, refused: BREAKER_FAILURES * 2 });
    } finally {
      client.close();
    }
  });

  it('neither closes nor re-opens a half-open breaker: the next call probes again', async () => {
    fault.mode = 'err500';
    const client = new KServeClient(options(fault.url, { breakerCooldownMs: 200 }));
    try {
      for (let i = 0; i < BREAKER_FAILURES; i++) await client.infer(features(1), 1).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 220));
      fault.mode = 'err400';
      await expect(client.infer(features(1), 1)).rejects.toBeInstanceOf(KServeResponseError);
      expect(client.breaker.currentState).toBe('half-open');
      fault.mode = 'good';
      await client.infer(features(1), 1);
      expect(client.breaker.currentState).toBe('closed');
    } finally {
      client.close();
    }
  });
});

describe('through the gateway (PredictService): a fault never reaches the client as a 200 from KServe or a 502', () => {
  let model: ServingModel;

  beforeAll(async () => {
    model = await loadServingModel(committedModelDir());
  });

  afterAll(async () => {
    await model.onnx.close();
  });

  const noFeast = {
    getSenderFeatures(keys: readonly string[]): Promise<SenderLookup> {
      return Promise.resolve({
        features: keys.map(() => undefined) as unknown as SenderLookup['features'],
        found: keys.map(() => false),
        degraded: false,
      });
    },
  } as unknown as FeatureStore;

  function service(client: KServeClient, fallback: boolean): PredictService {
    return new PredictService({
      config: () => ({ predictFallbackEnabled: fallback, predictThreshold: 0.5, senderHashKey: 'test-key' }) as unknown as Config,
      kserve: () => client,
      featureStore: () => noFeast,
      model: () => Promise.resolve(model),
      log: () => true,
      warn: () => undefined,
    });
  }

  const request = parsePredictRequest(
    { subject: 'Cheap meds', from: 'Deals <deals@spam.example>', to: 'you@example.org', body: 'Buy now!!!' },
    10,
  );

  it.each<Mode>(['logits', 'nonJson200', 'err500', 'wrongId', 'drip', 'shapeN3', 'err400'])(
    '%s: fallback on → 200 from the embedded model with degraded: true; fallback off → 503 with Retry-After',
    async (mode) => {
      fault.mode = mode;
      const client = new KServeClient(options(fault.url));
      try {
        const { value, ms } = await timed(service(client, true).predict(request, 'production', 'req-42'));
        expect(ms).toBeLessThan(TIMEOUT_MS + MARGIN_MS + 500); // + the embedded model's inference
        const res = value as SinglePredictResponse;
        expect(res.degraded).toBe(true);
        expect(res.model.version).toBe(COMMITTED_MODEL_VERSION);
        expect(res.probability).toBeGreaterThanOrEqual(0);
        expect(res.probability).toBeLessThanOrEqual(1);
        expect(res.probability).not.toBe(0.75); // not the backend's answer
        const off = await timed(service(client, false).predict(request, 'production', 'req-43'));
        expect(off.error).toBeInstanceOf(KServeUnavailableError);
        const answer = toErrorResponse(off.error);
        expect(answer.status).toBe(503);
        expect((answer.jsonBody as { error: { code: string } }).error.code).toBe('service_unavailable');
        expect(answer.headers).toHaveProperty('Retry-After');
      } finally {
        client.close();
      }
    },
  );

  it('a valid answer is used as is (degraded: false)', async () => {
    fault.mode = 'good';
    const client = new KServeClient(options(fault.url));
    try {
      const res = (await service(client, true).predict(request, 'production', 'req-44')) as SinglePredictResponse;
      expect(res.degraded).toBe(false);
      expect(res.probability).toBe(0.75);
    } finally {
      client.close();
    }
  });
});
