// Client of the Open Inference Protocol (KServe V2 REST) for the spam-detector model: infer, model metadata and
// readiness, per environment. The same client talks to Triton behind KServe in AKS and to the local V2 server
// (tools/devhost/modelServer.ts). Keep-alive connections, one deadline per call, bounded retries of idempotent failures
// under a retry budget, and a circuit breaker. Inference is a pure function of its input, so an infer POST is safe
// to retry.
//
// Every error this client throws is a KServeUnavailableError (503 with Retry-After, or the gateway's embedded
// fallback): to the gateway's clients, a backend that does not give a valid V2 answer in time is unavailable,
// whatever went wrong behind it (the predict API's errors are 400, 413, 415 and 503 only; docs/gateway.md). KServeResponseError, a subclass, says the
// backend did answer, but with an error status or with something that breaks the V2 contract; `upstreamStatus`
// keeps its status for logs and tests.
//
// KSERVE_TIMEOUT_MS (`timeoutMs`) is a deadline for the whole call: connecting, sending, the full response body,
// and any retries with their backoff. A backend that drips its answer a byte at a time is cut off at the deadline
// like one that never answers; no call holds a predict longer than timeoutMs (plus a timer tick).
//
// Model versions: the local V2 server reports the model's own version ("1.0.0"). Triton reports the numeric
// directory of its model repository ("1"), which says nothing about which model it is; there the project version is
// declared in config.pbtxt as `parameters { key: "model_version" value: { string_value: "1.0.0" } }` and read through
// Triton's model configuration extension (GET /v2/models/{name}/config). `modelVersion` in results is that declared
// version, the reported one when it is not a bare repository number, or undefined when the backend does not say.
import http from 'node:http';
import https from 'node:https';
import { Environment } from '../../platform/blobLayout';
import { CircuitBreaker, RetryBudget } from './circuitBreaker';
import { getConfig } from '../../platform/config';
import { errorMessage, ServiceUnavailableError } from '../../platform/errors';
import type { CheckResult, HealthCheck } from '../../platform/health';

/**
 * The backend gave no valid answer: down, timed out, 429/502/503/504 after retries, breaker open, or (the
 * KServeResponseError subclass) an error status or a response that breaks the V2 contract. The caller may fall
 * back to the embedded model; otherwise it is a 503 with Retry-After.
 */
export class KServeUnavailableError extends ServiceUnavailableError {
  constructor(
    readonly environment: Environment,
    detail: string,
    retryAfterSeconds = 1,
  ) {
    super(`KServe ${environment} backend unavailable: ${detail}`, retryAfterSeconds);
  }
}

/**
 * The backend answered, but not with a valid V2 response to our request: a non-2xx status other than the retried
 * 429/502/503/504 (its `{ error }` message is kept), a body that is not JSON, or one that violates the contract
 * (wrong output, datatype, shape, values that are not probabilities, another model or request id). Still a
 * KServeUnavailableError: the gateway falls back or answers 503, never passes the fault on as a 502 or a 200.
 */
export class KServeResponseError extends KServeUnavailableError {
  constructor(
    environment: Environment,
    readonly upstreamStatus: number,
    detail: string,
    retryAfterSeconds = 1,
  ) {
    super(environment, `answered ${upstreamStatus}: ${detail}`, retryAfterSeconds);
  }
}

export interface V2Tensor {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data: unknown[];
}

export interface V2InferResponse {
  model_name: string;
  model_version?: string;
  id?: string;
  parameters?: Record<string, unknown>;
  outputs: V2Tensor[];
}

export interface V2ModelMetadata {
  name: string;
  versions?: string[];
  platform: string;
  inputs: { name: string; datatype: string; shape: number[] }[];
  outputs: { name: string; datatype: string; shape: number[] }[];
}

export interface InferResult {
  modelName: string;
  /** The project model version the backend serves (see above); undefined when it does not say. */
  modelVersion: string | undefined;
  /** `model_version` exactly as the backend reported it. */
  reportedVersion: string | undefined;
  id: string | undefined;
  /** rows x 2, [p_ham, p_spam] per row. */
  probabilities: [number, number][];
}

export interface KServeClientOptions {
  environment: Environment;
  baseUrl: string;
  modelName: string;
  inputName?: string;
  outputName?: string;
  timeoutMs: number;
  maxRetries: number;
  retryBudgetRatio: number;
  breakerFailures: number;
  breakerCooldownMs: number;
  maxSockets: number;
}

interface RawResponse {
  status: number;
  body: Buffer;
}

const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;
/** How long a resolved version is trusted: a promotion can replace the model behind the same Triton version "1". */
const VERSION_TTL_MS = 30_000;
/** How long a failed version lookup is remembered as "unknown" before the next call asks again. */
const FAILED_LOOKUP_TTL_MS = 1_000;
/**
 * Statuses that mean "not answering right now": 502/504 come from a proxy in front of the model (Istio/Knative
 * queue-proxy, ingress) that could not reach it in time, 503 is a model still loading or a revision scaling from
 * zero, 429 is the queue-proxy or a rate limiter shedding load. They are retried (within the deadline and the retry
 * budget) and count as an outage.
 */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** Tolerance of a row's p_ham + p_spam around 1 (FP32 rounding of a softmax or of p and 1 - p is far below it). */
const ROW_SUM_TOLERANCE = 1e-3;
const PROBABILITY_DATATYPES = new Set(['FP32', 'FP64']);

/** No complete answer: connection refused or reset, deadline passed, response too large. Retryable. */
class TransportError extends Error {}

/** A 2xx answer that is not the V2 response the contract promises. */
class ContractViolation extends Error {}

/** How a non-2xx, non-retryable answer counts for the breaker (see `outcomeOf`). */
type Outcome = 'failure' | 'neutral';

/**
 * 4xx other than 429 and 404 means the backend is up and refused this particular request (a tensor it rejects, a
 * batch above Triton's max_batch_size, a body too large for the ingress): it is neutral for the breaker. Counting it
 * would let a burst of one kind of bad request open the breaker and push every other request onto the embedded
 * model; treating it as a success would let a backend that refuses everything look healthy, or close a half-open
 * breaker. The request still fails (and falls back): retrying cannot change a refusal.
 * 404 is not "our request was wrong" but "this backend does not serve our model" (not loaded yet, unloaded, a
 * misrouted ingress): for the gateway that backend is down, so it is a failure, like any 5xx (a 500 is an error
 * inside Triton or the model; falling back is what keeps predictions flowing while it is broken) and like a 1xx/3xx,
 * which the protocol never sends.
 */
function outcomeOf(status: number): Outcome {
  return status >= 400 && status < 500 && status !== 404 && status !== 429 ? 'neutral' : 'failure';
}

/** The `error` message of a V2 error body, or a short excerpt of whatever came back. */
function bodyMessage(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error.slice(0, 500);
  } catch {
    // not JSON: fall through
  }
  return text.length ? JSON.stringify(text.slice(0, 200)) : '(empty body)';
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function parseJsonBody(res: RawResponse): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    throw new ContractViolation(`response is not JSON: ${bodyMessage(res.body)}`);
  }
  if (!isObject(parsed)) throw new ContractViolation('response is not a JSON object');
  return parsed;
}

/**
 * The `rows` x 2 values of a tensor's `data`, flat or nested row-major (the V2 protocol allows both): flat, exactly rows * 2
 * scalars; nested, exactly `rows` arrays of 2 scalars each (nesting that does not follow the shape is refused).
 */
function tensorRows(data: unknown[], rows: number): unknown[][] {
  if (!data.some(Array.isArray)) {
    if (data.length !== rows * 2) throw new ContractViolation(`data holds ${data.length} values, the shape ${rows}x2 needs ${rows * 2}`);
    return Array.from({ length: rows }, (_, i) => [data[2 * i], data[2 * i + 1]]);
  }
  if (data.length !== rows || !data.every((row) => Array.isArray(row) && row.length === 2 && !row.some(Array.isArray))) {
    throw new ContractViolation(`nested data does not follow the shape [${rows}, 2]`);
  }
  return data as unknown[][];
}

/**
 * A V2 infer response checked against what we asked for (Open Inference Protocol; docs/gateway.md): the `model_name` we
 * called when it says one, our request `id` when it echoes one, a `model_version` that is a string when present, and
 * an output `outputName` of datatype FP32/FP64, shape [rows, 2], whose rows are probabilities: finite, in [0, 1],
 * summing to 1 within ROW_SUM_TOLERANCE. Logits, a [rows, 1] or [rows, 3] output, strings or NaN never reach a client
 * or the inference log.
 */
function checkInferResponse(
  body: Record<string, unknown>,
  expected: { modelName: string; outputName: string; rows: number; id: string | undefined },
): { modelName: string; reportedVersion: string | undefined; id: string | undefined; probabilities: [number, number][] } {
  const { modelName, outputName, rows, id } = expected;
  if (body.model_name !== undefined && body.model_name !== modelName) {
    throw new ContractViolation(`response is from model ${JSON.stringify(body.model_name)}, not '${modelName}'`);
  }
  if (id !== undefined && body.id !== undefined && body.id !== id) {
    throw new ContractViolation(`response id ${JSON.stringify(body.id)} is not the request id ${JSON.stringify(id)}`);
  }
  if (body.model_version !== undefined && typeof body.model_version !== 'string') {
    throw new ContractViolation(`model_version ${JSON.stringify(body.model_version)} is not a string`);
  }
  if (!Array.isArray(body.outputs)) throw new ContractViolation("response has no 'outputs' array");
  const matching = body.outputs.filter((o) => isObject(o) && o.name === outputName) as Record<string, unknown>[];
  if (matching.length !== 1)
    throw new ContractViolation(
      matching.length ? `response has ${matching.length} '${outputName}' outputs` : `response has no '${outputName}' output`,
    );
  const output = matching[0];
  const where = `output '${outputName}'`;
  if (typeof output.datatype !== 'string' || !PROBABILITY_DATATYPES.has(output.datatype)) {
    throw new ContractViolation(`${where}: datatype ${JSON.stringify(output.datatype)}, expected FP32 or FP64`);
  }
  if (!Array.isArray(output.shape) || output.shape.length !== 2 || output.shape[0] !== rows || output.shape[1] !== 2) {
    throw new ContractViolation(`${where}: shape ${JSON.stringify(output.shape)}, expected [${rows}, 2]`);
  }
  if (!Array.isArray(output.data)) throw new ContractViolation(`${where}: no data array`);
  let tensor: unknown[][];
  try {
    tensor = tensorRows(output.data, rows);
  } catch (err) {
    throw new ContractViolation(`${where}: ${(err as Error).message}`);
  }
  const probabilities: [number, number][] = tensor.map(([pHam, pSpam], i) => {
    for (const p of [pHam, pSpam]) {
      if (typeof p !== 'number' || !Number.isFinite(p) || p < 0 || p > 1) {
        throw new ContractViolation(`${where}: row ${i} holds ${JSON.stringify(p)}, not a probability in [0, 1]`);
      }
    }
    const sum = (pHam as number) + (pSpam as number);
    if (Math.abs(sum - 1) > ROW_SUM_TOLERANCE) throw new ContractViolation(`${where}: row ${i} sums to ${sum}, not 1`);
    return [pHam as number, pSpam as number];
  });
  return {
    modelName: typeof body.model_name === 'string' ? body.model_name : modelName,
    reportedVersion: body.model_version,
    id: typeof body.id === 'string' ? body.id : undefined,
    probabilities,
  };
}

export class KServeClient {
  readonly environment: Environment;
  readonly baseUrl: string;
  readonly modelName: string;
  readonly breaker: CircuitBreaker;
  private readonly inputName: string;
  private readonly outputName: string;
  private readonly budget: RetryBudget;
  private readonly agent: http.Agent;
  private readonly transport: typeof http | typeof https;
  private lastVersion: string | undefined;
  private readonly resolved = new Map<string, { at: number; version: Promise<string | undefined> }>();
  /**
   * requests: calls; retries: extra attempts; failures: calls counted against the breaker; refused: calls the
   * backend refused with a 4xx (neutral for the breaker); rejected_by_breaker: calls failed fast while open.
   */
  private counters = { requests: 0, retries: 0, failures: 0, refused: 0, rejected_by_breaker: 0 };

  constructor(private readonly options: KServeClientOptions) {
    this.environment = options.environment;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.modelName = options.modelName;
    this.inputName = options.inputName ?? 'features';
    this.outputName = options.outputName ?? 'probabilities';
    this.breaker = new CircuitBreaker({ failureThreshold: options.breakerFailures, cooldownMs: options.breakerCooldownMs });
    this.budget = new RetryBudget(options.retryBudgetRatio);
    const secure = this.baseUrl.startsWith('https:');
    this.transport = secure ? https : http;
    const agentOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
      scheduling: 'lifo' as const,
    };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** The project model version the backend last served (resolved as described above). */
  get knownVersion(): string | undefined {
    return this.lastVersion;
  }

  private newDeadline(): number {
    return performance.now() + this.options.timeoutMs;
  }

  /**
   * `parameters.model_version` of the model's configuration (Triton's model configuration extension): the declared
   * version, null when the backend has none to declare (404, no such parameter), undefined when the lookup failed.
   */
  private async declaredVersion(deadline: number): Promise<string | null | undefined> {
    let res: RawResponse;
    try {
      res = await this.once('GET', `/v2/models/${encodeURIComponent(this.modelName)}/config`, undefined, deadline);
    } catch {
      return undefined;
    }
    if (res.status === 404 || res.status === 400) return null;
    if (res.status !== 200) return undefined;
    try {
      const config = JSON.parse(res.body.toString('utf8')) as { parameters?: { model_version?: { string_value?: unknown } } };
      const v = config?.parameters?.model_version?.string_value;
      return typeof v === 'string' && v.trim() !== '' ? v.trim() : null;
    } catch {
      return undefined;
    }
  }

  /**
   * The project version behind a reported `model_version`, cached for VERSION_TTL_MS. The configuration lookup
   * shares the deadline of the call that needs it; a failed lookup answers as "unknown" and is remembered for
   * FAILED_LOOKUP_TTL_MS only (long enough that a hanging /config endpoint does not cost every call its deadline).
   */
  resolveVersion(reported: string | undefined, deadline = this.newDeadline()): Promise<string | undefined> {
    if (reported === undefined) return Promise.resolve(undefined);
    const cached = this.resolved.get(reported);
    if (cached && Date.now() - cached.at < VERSION_TTL_MS) return cached.version;
    const entry = {
      at: Date.now(),
      version: this.declaredVersion(deadline).then((declared) => {
        if (declared === undefined) entry.at = Date.now() - VERSION_TTL_MS + FAILED_LOOKUP_TTL_MS;
        return declared ?? (/^\d+$/.test(reported) ? undefined : reported);
      }),
    };
    this.resolved.set(reported, entry);
    return entry.version;
  }

  /**
   * One HTTP exchange that must be complete — connected, sent, the whole body read — by `deadline`
   * (performance.now() ms), else the request is destroyed. Rejects with TransportError (or with what
   * http.request throws at once for a URL it cannot use).
   */
  private once(method: 'GET' | 'POST', path: string, body: Buffer | undefined, deadline: number): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      let settled = false;
      let responding = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (err: TransportError | undefined, value?: RawResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) {
          reject(err);
          req.destroy();
        } else {
          resolve(value!);
        }
      };
      const req = this.transport.request(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
        },
        (res) => {
          responding = true;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) return finish(new TransportError(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
            chunks.push(c);
          });
          res.on('end', () => finish(undefined, { status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', (e) => finish(new TransportError(`response interrupted: ${e.message}`)));
          res.on('close', () => {
            if (!res.complete) finish(new TransportError('connection closed before the response was complete'));
          });
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => finish(new TransportError(e.code ? `${e.code} ${e.message}` : e.message)));
      const ms = this.options.timeoutMs;
      timer = setTimeout(
        () => finish(new TransportError(responding ? `response not complete within ${ms} ms` : `no answer within ${ms} ms`)),
        Math.max(0, deadline - performance.now()),
      );
      req.end(body);
    });
  }

  /**
   * One logical call under one deadline (timeoutMs): breaker check, then attempts. Connection failures, the
   * deadline and RETRYABLE_STATUS are retried while time, maxRetries and the retry budget allow, and end as a
   * failure. Any other answer is final: a 2xx goes through `accept` (which throws ContractViolation for a body
   * that breaks the contract), and only an accepted answer is a success for the breaker; a contract violation or
   * an error status is a KServeResponseError, counted as `outcomeOf` says. Every path tells the breaker exactly once.
   */
  private async call<T>(
    method: 'GET' | 'POST',
    path: string,
    body: Buffer | undefined,
    deadline: number,
    accept: (res: RawResponse) => T,
  ): Promise<T> {
    this.counters.requests++;
    if (!this.breaker.tryAcquire()) {
      this.counters.rejected_by_breaker++;
      throw new KServeUnavailableError(this.environment, 'circuit breaker open', this.breaker.retryAfterSeconds());
    }
    this.budget.deposit();
    let lastProblem = '';
    for (let attempt = 0; ; attempt++) {
      let res: RawResponse | undefined;
      try {
        res = await this.once(method, path, body, deadline);
      } catch (err) {
        lastProblem = (err as Error).message;
      }
      if (res && !RETRYABLE_STATUS.has(res.status)) return this.settle(res, accept);
      if (res) lastProblem = `${res.status} ${bodyMessage(res.body)}`;
      const backoff = Math.min(200, 20 * 2 ** attempt) * (0.5 + Math.random() / 2);
      // A retry needs time left after its backoff; otherwise the deadline decides and the call fails now.
      if (attempt >= this.options.maxRetries || performance.now() + backoff >= deadline || !this.budget.tryWithdraw()) break;
      this.counters.retries++;
      await new Promise((r) => setTimeout(r, backoff));
    }
    return this.fail(new TransportError(lastProblem));
  }

  /** A final (non-retried) answer: accepted, refused, or a fault; the breaker learns which. */
  private settle<T>(res: RawResponse, accept: (res: RawResponse) => T): T {
    if (res.status >= 200 && res.status < 300) {
      let value: T;
      try {
        value = accept(res);
      } catch (err) {
        return this.fail(err as Error, res.status);
      }
      this.breaker.onSuccess();
      return value;
    }
    const message = bodyMessage(res.body); // KServe's own `{ error }` text, or what its body said
    if (outcomeOf(res.status) === 'neutral') {
      this.counters.refused++;
      this.breaker.release();
      throw new KServeResponseError(this.environment, res.status, message, this.breaker.retryAfterSeconds());
    }
    return this.fail({ message }, res.status);
  }

  /** A failed call: counted against the breaker, then thrown as the typed error. */
  private fail(problem: Pick<Error, 'message'>, status?: number): never {
    this.counters.failures++;
    this.breaker.onFailure();
    const retryAfter = this.breaker.retryAfterSeconds();
    if (status === undefined) throw new KServeUnavailableError(this.environment, problem.message, retryAfter);
    throw new KServeResponseError(this.environment, status, problem.message, retryAfter);
  }

  /** POST /v2/models/{name}/infer with `rows` x `width` FP32 features; returns [p_ham, p_spam] per row. */
  async infer(features: Float32Array, rows: number, options: { id?: string } = {}): Promise<InferResult> {
    const width = features.length / rows;
    const request = {
      ...(options.id !== undefined ? { id: options.id } : {}),
      inputs: [{ name: this.inputName, shape: [rows, width], datatype: 'FP32', data: Array.from(features) }],
      outputs: [{ name: this.outputName }],
    };
    const deadline = this.newDeadline();
    const checked = await this.call(
      'POST',
      `/v2/models/${encodeURIComponent(this.modelName)}/infer`,
      Buffer.from(JSON.stringify(request)),
      deadline,
      (res) => checkInferResponse(parseJsonBody(res), { modelName: this.modelName, outputName: this.outputName, rows, id: options.id }),
    );
    const modelVersion = await this.resolveVersion(checked.reportedVersion, deadline);
    this.lastVersion = modelVersion;
    return { ...checked, modelVersion };
  }

  /** GET /v2/models/{name}. */
  async metadata(): Promise<V2ModelMetadata> {
    const deadline = this.newDeadline();
    const body = await this.call('GET', `/v2/models/${encodeURIComponent(this.modelName)}`, undefined, deadline, (res) => {
      const parsed = parseJsonBody(res);
      if (parsed.name !== this.modelName)
        throw new ContractViolation(`metadata is of model ${JSON.stringify(parsed.name)}, not '${this.modelName}'`);
      if (parsed.versions !== undefined && !(Array.isArray(parsed.versions) && parsed.versions.every((v) => typeof v === 'string'))) {
        throw new ContractViolation('metadata versions is not an array of strings');
      }
      return parsed as unknown as V2ModelMetadata;
    });
    if (Array.isArray(body.versions) && body.versions.length > 0) {
      this.lastVersion = await this.resolveVersion(body.versions[body.versions.length - 1], deadline);
    }
    return body;
  }

  /** GET /v2/health/ready, judged by status 200 as the protocol says. */
  async ready(): Promise<boolean> {
    try {
      const res = await this.once('GET', '/v2/health/ready', undefined, this.newDeadline());
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** Health of this backend for /api/health: ready, the model's metadata, breaker and counters. */
  async health(): Promise<CheckResult> {
    const info: Record<string, unknown> = { url: this.baseUrl, breaker: this.breaker.snapshot(), ...this.counters };
    if (!(await this.ready())) return { status: 'down', detail: `${this.baseUrl}/v2/health/ready is not 200`, info };
    try {
      const meta = await this.metadata();
      return { status: 'ok', info: { ...info, model: meta.name, versions: meta.versions ?? [], model_version: this.lastVersion ?? null } };
    } catch (err) {
      return { status: 'degraded', detail: errorMessage(err), info };
    }
  }

  close(): void {
    this.agent.destroy();
  }
}

const clients = new Map<Environment, KServeClient>();

/** The KServe client of an environment, built on first use from configuration. */
export function getKServeClient(environment: Environment): KServeClient {
  let client = clients.get(environment);
  if (!client) {
    const c = getConfig();
    client = new KServeClient({
      environment,
      baseUrl: environment === 'production' ? c.kserveProductionUrl : c.kserveStagingUrl,
      modelName: c.kserveModelName,
      timeoutMs: c.kserveTimeoutMs,
      maxRetries: c.kserveMaxRetries,
      retryBudgetRatio: c.kserveRetryBudgetRatio,
      breakerFailures: c.kserveBreakerFailures,
      breakerCooldownMs: c.kserveBreakerCooldownMs,
      maxSockets: c.kserveMaxSockets,
    });
    clients.set(environment, client);
  }
  return client;
}

export function resetKServeClients(): void {
  for (const c of clients.values()) c.close();
  clients.clear();
}

/** `/api/health` entry of an environment's backend; required only when there is no fallback to answer instead. */
export function kserveHealthCheck(environment: Environment): HealthCheck {
  return {
    get required() {
      return !getConfig().predictFallbackEnabled;
    },
    run: () => getKServeClient(environment).health(),
  };
}
