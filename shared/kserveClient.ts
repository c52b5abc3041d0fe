// Client of the Open Inference Protocol (KServe V2 REST) for the spam-detector model: infer, model metadata and
// readiness, per environment. The same client talks to Triton behind KServe in AKS and to the local V2 server
// (devhost/modelServer.ts). Keep-alive connections, a timeout per attempt, bounded retries of idempotent failures
// under a retry budget, and a circuit breaker; errors map to 502 (the server refused our request: its message) or
// 503 (the backend is unavailable: fall back or retry later). Inference is a pure function of its input, so an
// infer POST is safe to retry.
//
// Model versions: the local V2 server reports the model's own version ("1.0.0"). Triton reports the numeric
// directory of its model repository ("1"), which says nothing about which model it is; there the project version is
// declared in config.pbtxt as `parameters { key: "model_version" value: { string_value: "1.0.0" } }` and read through
// Triton's model configuration extension (GET /v2/models/{name}/config). `modelVersion` in results is that declared
// version, the reported one when it is not a bare repository number, or undefined when the backend does not say.
import http from 'node:http';
import https from 'node:https';
import { Environment } from './blobLayout';
import { CircuitBreaker, RetryBudget } from './circuitBreaker';
import { getConfig } from './config';
import { BadGatewayError, ServiceUnavailableError } from './errors';
import type { CheckResult, HealthCheck } from './health';

/** The backend could not answer (down, timed out, 429/502/503/504, breaker open): the caller may fall back. */
export class KServeUnavailableError extends ServiceUnavailableError {
  constructor(
    readonly environment: Environment,
    detail: string,
    retryAfterSeconds = 1,
  ) {
    super(`KServe ${environment} backend unavailable: ${detail}`, retryAfterSeconds);
  }
}

/** The backend answered, but refused the request or answered something that is not a V2 response. */
export class KServeResponseError extends BadGatewayError {
  constructor(
    readonly environment: Environment,
    readonly upstreamStatus: number,
    detail: string,
  ) {
    super(`KServe ${environment} backend answered ${upstreamStatus}: ${detail}`);
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
/**
 * Statuses that mean "not answering right now", not "the model refused or failed": 502/504 come from a proxy in
 * front of the model (Istio/Knative queue-proxy, ingress) that could not reach it in time, 503 is a model still
 * loading or a revision scaling from zero, 429 is the queue-proxy or a rate limiter shedding load. They are retried
 * and count as an outage. Any other non-2xx (400 bad tensor, 404 unknown model, 500/501 an error inside Triton or the
 * model) is the backend answering: retrying cannot change it and falling back would hide a broken model.
 */
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);

class TransportError extends Error {}

function flatten(data: unknown[]): unknown[] {
  return data.some(Array.isArray) ? (data as unknown[]).flat(Infinity) : data;
}

/** The `error` message of a V2 error body, or a short excerpt of whatever came back. */
function errorMessage(body: Buffer): string {
  const text = body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: fall through
  }
  return text.length ? text.slice(0, 200) : '(empty body)';
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
  private counters = { requests: 0, retries: 0, failures: 0, rejected_by_breaker: 0 };

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
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets, maxFreeSockets: options.maxSockets, scheduling: 'lifo' as const };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
  }

  /** The project model version the backend last served (resolved as described above). */
  get knownVersion(): string | undefined {
    return this.lastVersion;
  }

  /** `parameters.model_version` of the model's configuration (Triton's model configuration extension), if any. */
  private async declaredVersion(): Promise<string | undefined> {
    try {
      const res = await this.once('GET', `/v2/models/${encodeURIComponent(this.modelName)}/config`);
      if (res.status !== 200) return undefined;
      const config = JSON.parse(res.body.toString('utf8')) as { parameters?: { model_version?: { string_value?: unknown } } };
      const v = config?.parameters?.model_version?.string_value;
      return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
    } catch {
      return undefined;
    }
  }

  /** The project version behind a reported `model_version`, cached for VERSION_TTL_MS. */
  resolveVersion(reported: string | undefined): Promise<string | undefined> {
    if (reported === undefined) return Promise.resolve(undefined);
    const cached = this.resolved.get(reported);
    if (cached && Date.now() - cached.at < VERSION_TTL_MS) return cached.version;
    const version = this.declaredVersion().then((declared) => declared ?? (/^\d+$/.test(reported) ? undefined : reported));
    this.resolved.set(reported, { at: Date.now(), version });
    return version;
  }

  private once(method: 'GET' | 'POST', path: string, body?: Buffer): Promise<RawResponse> {
    return new Promise((resolve, reject) => {
      const req = this.transport.request(
        `${this.baseUrl}${path}`,
        {
          method,
          agent: this.agent,
          headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
          timeout: this.options.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_RESPONSE_BYTES) {
              req.destroy(new TransportError(`response larger than ${MAX_RESPONSE_BYTES} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
          res.on('error', (e) => reject(new TransportError(e.message)));
        },
      );
      req.on('timeout', () => req.destroy(new TransportError(`no answer within ${this.options.timeoutMs} ms`)));
      req.on('error', (e: NodeJS.ErrnoException) => reject(e instanceof TransportError ? e : new TransportError(e.code ? `${e.code} ${e.message}` : e.message)));
      req.end(body);
    });
  }

  /**
   * One logical call: breaker check, attempts with retries of transport failures and RETRYABLE_STATUS while the
   * retry budget allows, then the breaker learns the outcome. Every other answer, 2xx or not, is returned: the backend
   * is alive, and the caller turns a non-2xx into a KServeResponseError (502 with the server's message).
   */
  private async call(method: 'GET' | 'POST', path: string, body?: Buffer): Promise<RawResponse> {
    this.counters.requests++;
    if (!this.breaker.tryAcquire()) {
      this.counters.rejected_by_breaker++;
      throw new KServeUnavailableError(this.environment, 'circuit breaker open', this.breaker.retryAfterSeconds());
    }
    this.budget.deposit();
    let lastProblem = '';
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.once(method, path, body);
        if (!RETRYABLE_STATUS.has(res.status)) {
          this.breaker.onSuccess();
          return res;
        }
        lastProblem = `${res.status} ${errorMessage(res.body)}`;
      } catch (err) {
        if (!(err instanceof TransportError)) throw err;
        lastProblem = err.message;
      }
      if (attempt >= this.options.maxRetries || !this.budget.tryWithdraw()) break;
      this.counters.retries++;
      await new Promise((r) => setTimeout(r, Math.min(200, 20 * 2 ** attempt) * (0.5 + Math.random() / 2)));
    }
    this.counters.failures++;
    this.breaker.onFailure();
    throw new KServeUnavailableError(this.environment, lastProblem, this.breaker.retryAfterSeconds());
  }

  private parseJson<T>(res: RawResponse): T {
    if (res.status < 200 || res.status >= 300) throw new KServeResponseError(this.environment, res.status, errorMessage(res.body));
    try {
      return JSON.parse(res.body.toString('utf8')) as T;
    } catch {
      throw new KServeResponseError(this.environment, res.status, 'response is not JSON');
    }
  }

  /** POST /v2/models/{name}/infer with `rows` x `width` FP32 features; returns [p_ham, p_spam] per row. */
  async infer(features: Float32Array, rows: number, options: { id?: string } = {}): Promise<InferResult> {
    const width = features.length / rows;
    const request = {
      ...(options.id !== undefined ? { id: options.id } : {}),
      inputs: [{ name: this.inputName, shape: [rows, width], datatype: 'FP32', data: Array.from(features) }],
      outputs: [{ name: this.outputName }],
    };
    const res = await this.call('POST', `/v2/models/${encodeURIComponent(this.modelName)}/infer`, Buffer.from(JSON.stringify(request)));
    const body = this.parseJson<V2InferResponse>(res);
    const output = Array.isArray(body?.outputs) ? body.outputs.find((o) => o?.name === this.outputName) : undefined;
    if (!output || !Array.isArray(output.data)) {
      throw new KServeResponseError(this.environment, res.status, `response has no '${this.outputName}' output`);
    }
    const data = flatten(output.data);
    if (data.length !== rows * 2 || !data.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new KServeResponseError(this.environment, res.status, `'${this.outputName}' should hold ${rows}x2 numbers, got shape ${JSON.stringify(output.shape)}`);
    }
    const probabilities: [number, number][] = [];
    for (let i = 0; i < rows; i++) probabilities.push([data[2 * i] as number, data[2 * i + 1] as number]);
    const reportedVersion = typeof body.model_version === 'string' ? body.model_version : undefined;
    const modelVersion = await this.resolveVersion(reportedVersion);
    this.lastVersion = modelVersion;
    return { modelName: body.model_name, modelVersion, reportedVersion, id: body.id, probabilities };
  }

  /** GET /v2/models/{name}. */
  async metadata(): Promise<V2ModelMetadata> {
    const res = await this.call('GET', `/v2/models/${encodeURIComponent(this.modelName)}`);
    const body = this.parseJson<V2ModelMetadata>(res);
    if (Array.isArray(body.versions) && typeof body.versions[0] === 'string') {
      this.lastVersion = await this.resolveVersion(body.versions[body.versions.length - 1]);
    }
    return body;
  }

  /** GET /v2/health/ready, judged by status 200 as the protocol says. */
  async ready(): Promise<boolean> {
    try {
      const res = await this.once('GET', '/v2/health/ready');
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
      return { status: 'degraded', detail: err instanceof Error ? err.message : String(err), info };
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
