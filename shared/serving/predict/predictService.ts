// The gateway's request flow (docs/architecture.md): emails → one parse each → sender domain → keyed hash → Feast online
// features (one pipelined read) → 50 features → KServe V2 infer for the environment → [p_ham, p_spam] → response,
// and every prediction handed to the async inference logger (never awaited). When the environment's KServe
// backend is unavailable, the embedded ONNX model of the same version answers with `degraded: true`, unless the
// fallback is switched off (then 503 with Retry-After).
import { Environment } from '../../platform/blobLayout';
import { Config, getConfig } from '../../platform/config';
import { BadRequestError, errorMessage, ServiceUnavailableError } from '../../platform/errors';
import { FeatureStore, getFeatureStore, SenderLookup } from '../featureStore/featureStore';
import { FEATURE_COUNT, FeatureName, SenderFeatures, UNKNOWN_SENDER } from '../features/featureList';
import { prepareEmails, startParsePool } from '../features/parsePool';
import { namedFeatures, PreparedEmail, preparedFeatures } from '../features/transformer';
import { getKServeClient, KServeClient, KServeUnavailableError } from '../kserve/kserveClient';
import { getInferenceLogger } from '../../logs/inferenceLogger';
import type { InferenceLogRecord } from '../../logs/logSchema';
import { getEnvironmentModel, ServingModel } from './environmentModels';
import { PredictInstance, PredictRequest } from './requestSchema';
import { senderDomainHash } from './senderHash';

export interface PredictionResult {
  id?: string;
  prediction: 'spam' | 'ham';
  probability: number;
  probabilities: [number, number];
  threshold: number;
  model: { name: string; version: string };
  environment: Environment;
  degraded: boolean;
}

export type SinglePredictResponse = { request_id: string } & PredictionResult & { latency_ms: number };

export interface BatchPredictResponse {
  request_id: string;
  environment: Environment;
  model: { name: string; version: string };
  degraded: boolean;
  count: number;
  results: PredictionResult[];
  latency_ms: number;
}

export interface TransformResult {
  id?: string;
  features: Record<FeatureName, number>;
  sender: { known: boolean; sender_key: string | null };
  degraded: boolean;
}

export interface PredictDependencies {
  config(): Config;
  kserve(env: Environment): KServeClient;
  featureStore(): FeatureStore;
  /** The environment's model; with a version, that version (KServe reported it). */
  model(env: Environment, version?: string): Promise<ServingModel>;
  /** The async inference logger's `log`; returns false when the record was dropped. */
  log(record: InferenceLogRecord): boolean;
  warn(message: string): void;
}

/** What a request needs before any model is involved: parsed emails and their senders' Feast features. */
interface Lookup {
  emails: PreparedEmail[];
  senders: (SenderFeatures | undefined)[];
  senderKeys: (string | null)[];
  known: boolean[];
  featureStoreDegraded: boolean;
}

const round = (x: number, digits = 6) => Math.round(x * 10 ** digits) / 10 ** digits;

export class PredictService {
  constructor(private readonly deps: PredictDependencies) {}

  private async parse(instances: readonly PredictInstance[]): Promise<PreparedEmail[]> {
    return Promise.all(
      prepareEmails(instances.map((inst) => inst.email)).map(async (prepared, i) => {
        try {
          return await prepared;
        } catch (err) {
          const where = instances.length > 1 ? `instances[${i}]: ` : '';
          throw new BadRequestError(`${where}the email could not be parsed: ${(err as Error).message.slice(0, 200)}`, 'unparseable_email');
        }
      }),
    );
  }

  /** The senders' Feast features; a store that cannot even be built (a bad REDIS_URL) is a store that is down. */
  private async readSenders(keys: readonly string[]): Promise<SenderLookup> {
    let store: FeatureStore;
    try {
      store = this.deps.featureStore();
    } catch (err) {
      return { features: keys.map(() => UNKNOWN_SENDER), found: keys.map(() => false), degraded: true, reason: errorMessage(err) };
    }
    return store.getSenderFeatures(keys);
  }

  /** Parse, and look the senders up in Feast (one pipelined read for the whole request). */
  private async lookup(instances: readonly PredictInstance[]): Promise<Lookup> {
    const emails = await this.parse(instances);
    const senderKeys = emails.map((e) => (e.senderDomain ? senderDomainHash(e.senderDomain, this.deps.config().senderHashKey) : null));
    const lookupKeys = senderKeys.filter((k): k is string => k !== null);
    const found = lookupKeys.length ? await this.readSenders(lookupKeys) : undefined;
    const senders: (SenderFeatures | undefined)[] = [];
    const known: boolean[] = [];
    let j = 0;
    for (const key of senderKeys) {
      senders.push(key !== null ? found!.features[j] : undefined);
      known.push(key !== null ? found!.found[j] : false);
      if (key !== null) j++;
    }
    if (found?.degraded) this.deps.warn(`Feast online features unavailable (${found.reason}); using the unknown-sender defaults`);
    return { emails, senders, senderKeys, known, featureStoreDegraded: found?.degraded ?? false };
  }

  /** The n x 50 feature matrix, with the token table of `model`. */
  private features(lookup: Lookup, model: ServingModel): Float32Array {
    const out = new Float32Array(lookup.emails.length * FEATURE_COUNT);
    lookup.emails.forEach((email, i) => out.set(preparedFeatures(email, model.tokens, lookup.senders[i]), i * FEATURE_COUNT));
    return out;
  }

  /**
   * KServe for the environment, or the embedded model of the same version when KServe is unavailable. When KServe
   * answers with another model version than the features were computed for, the gateway switches to that version
   * and scores once more with matching features.
   */
  private async infer(
    env: Environment,
    lookup: Lookup,
    requestId: string,
  ): Promise<{ model: ServingModel; features: Float32Array; probabilities: [number, number][]; fallback: boolean }> {
    const client = this.deps.kserve(env);
    let model = await this.deps.model(env);
    for (let attempt = 0; ; attempt++) {
      const features = this.features(lookup, model);
      const rows = lookup.emails.length;
      try {
        const result = await client.infer(features, rows, { id: requestId });
        if (result.modelVersion === undefined || result.modelVersion === model.version) {
          return { model, features, probabilities: result.probabilities, fallback: false };
        }
        if (attempt > 0) {
          throw new ServiceUnavailableError(
            `KServe ${env} changed model version twice during one request (${model.version}, ${result.modelVersion})`,
            1,
          );
        }
        this.deps.warn(`KServe ${env} serves ${model.name} ${result.modelVersion}; the gateway switches from ${model.version}`);
        model = await this.deps.model(env, result.modelVersion);
      } catch (err) {
        if (!(err instanceof KServeUnavailableError)) throw err;
        const config = this.deps.config();
        if (!config.predictFallbackEnabled) throw err;
        const served = client.knownVersion;
        if (served !== undefined && served !== model.version) {
          throw new ServiceUnavailableError(
            `${err.message}; no embedded fallback for version ${served} (embedded: ${model.version})`,
            err.headers['Retry-After'] ? Number(err.headers['Retry-After']) : 5,
          );
        }
        this.deps.warn(`${err.message}; answering from the embedded model ${model.name} ${model.version}`);
        return { model, features, probabilities: await model.predict(features, rows), fallback: true };
      }
    }
  }

  private async run(instances: readonly PredictInstance[], env: Environment, requestId: string, started: number) {
    const lookup = await this.lookup(instances);
    const { model, features, probabilities, fallback } = await this.infer(env, lookup, requestId);
    const threshold = model.threshold;
    const degraded = fallback || lookup.featureStoreDegraded;
    const results: PredictionResult[] = probabilities.map(([pHam, pSpam], i) => ({
      ...(instances[i].id !== undefined ? { id: instances[i].id } : {}),
      prediction: pSpam >= threshold ? 'spam' : 'ham',
      probability: round(pSpam),
      probabilities: [round(pHam), round(pSpam)],
      threshold,
      model: { name: model.name, version: model.version },
      environment: env,
      degraded,
    }));
    const latency = round(performance.now() - started, 2);
    const time = new Date().toISOString();
    results.forEach((r, i) => {
      const record: InferenceLogRecord = {
        time,
        request_id: instances.length > 1 ? `${requestId}#${i}` : requestId,
        environment: env,
        model_name: model.name,
        model_version: model.version,
        features: features.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT),
        probability: probabilities[i][1],
        prediction: r.prediction,
        latency_ms: latency,
        degraded,
        sender_key: lookup.senderKeys[i],
      };
      try {
        if (!this.deps.log(record)) this.deps.warn('inference log buffer full: record dropped');
      } catch (err) {
        this.deps.warn(`inference log record rejected: ${(err as Error).message}`);
      }
    });
    return { model, results, degraded, latency };
  }

  async predict(
    request: PredictRequest,
    env: Environment,
    requestId: string,
    started = performance.now(),
  ): Promise<SinglePredictResponse | BatchPredictResponse> {
    const instances = request.kind === 'single' ? [request.instance] : request.instances;
    const { model, results, degraded, latency } = await this.run(instances, env, requestId, started);
    if (request.kind === 'single') return { request_id: requestId, ...results[0], latency_ms: latency };
    return {
      request_id: requestId,
      environment: env,
      model: { name: model.name, version: model.version },
      degraded,
      count: results.length,
      results,
      latency_ms: latency,
    };
  }

  /** The 50 named features of each email (the feature transformer's output), with the sender lookup it used. */
  async transform(
    request: PredictRequest,
    env: Environment,
  ): Promise<{ model: { name: string; version: string }; results: TransformResult[]; degraded: boolean }> {
    const instances = request.kind === 'single' ? [request.instance] : request.instances;
    const model = await this.deps.model(env);
    const lookup = await this.lookup(instances);
    const features = this.features(lookup, model);
    const results = instances.map((inst, i) => ({
      ...(inst.id !== undefined ? { id: inst.id } : {}),
      features: namedFeatures(features.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT)),
      sender: { known: lookup.known[i], sender_key: lookup.senderKeys[i] },
      degraded: lookup.featureStoreDegraded,
    }));
    return { model: { name: model.name, version: model.version }, results, degraded: lookup.featureStoreDegraded };
  }
}

let service: PredictService | undefined;

/** The app's predict service over the configured KServe backends, Feast store, models and inference logger. */
export function getPredictService(): PredictService {
  startParsePool();
  service ??= new PredictService({
    config: getConfig,
    kserve: getKServeClient,
    featureStore: getFeatureStore,
    model: getEnvironmentModel,
    log: (record) => getInferenceLogger().log(record),
    warn: rateLimitedWarn(10_000),
  });
  return service;
}

/** The same kind of warning at most once per interval: an outage under load must not flood the log. */
export function rateLimitedWarn(intervalMs: number, sink: (m: string) => void = console.warn): (message: string) => void {
  const last = new Map<string, number>();
  return (message) => {
    const kind = message.slice(0, 48);
    const now = Date.now();
    if ((last.get(kind) ?? -Infinity) + intervalMs > now) return;
    last.set(kind, now);
    sink(message);
  };
}
