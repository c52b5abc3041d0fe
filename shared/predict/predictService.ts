// The gateway's request flow (DESIGN.md): emails → one parse each → sender domain → keyed hash → Feast online
// features (one pipelined read) → 50 features → KServe V2 infer for the environment → [p_ham, p_spam] → response,
// and every prediction handed to the async inference logger (never awaited). When the environment's KServe
// backend is unavailable, the embedded ONNX model of the same version answers with `degraded: true`, unless the
// fallback is switched off (then 503 with Retry-After).
import { Environment } from '../blobLayout';
import { Config, getConfig } from '../config';
import { BadGatewayError, BadRequestError, ServiceUnavailableError } from '../errors';
import { FeatureStore, getFeatureStore } from '../featureStore';
import { FEATURE_COUNT, FeatureName } from '../features/featureList';
import { namedFeatures, computeFeatures, parseEmail, ParsedEmail } from '../features/transformer';
import { getKServeClient, KServeClient, KServeUnavailableError } from '../kserveClient';
import { getInferenceLogger } from '../logs/inferenceLogger';
import type { InferenceLogRecord } from '../logs/logSchema';
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
  model(env: Environment): Promise<ServingModel>;
  /** The async inference logger's `log`; returns false when the record was dropped. */
  log(record: InferenceLogRecord): boolean;
  warn(message: string): void;
}

interface Prepared {
  rows: number;
  features: Float32Array;
  senderKeys: (string | null)[];
  known: boolean[];
  featureStoreDegraded: boolean;
}

const round = (x: number, digits = 6) => Math.round(x * 10 ** digits) / 10 ** digits;

export class PredictService {
  constructor(private readonly deps: PredictDependencies) {}

  private async parse(instances: readonly PredictInstance[]): Promise<ParsedEmail[]> {
    return Promise.all(
      instances.map(async (inst, i) => {
        try {
          return await parseEmail(inst.email);
        } catch (err) {
          const where = instances.length > 1 ? `instances[${i}]: ` : '';
          throw new BadRequestError(`${where}the email could not be parsed: ${(err as Error).message.slice(0, 200)}`, 'unparseable_email');
        }
      }),
    );
  }

  /** Parse, look the senders up in Feast (one pipeline), compute the feature matrix. */
  private async prepare(instances: readonly PredictInstance[], model: ServingModel): Promise<Prepared> {
    const emails = await this.parse(instances);
    const senderKeys = emails.map((e) => (e.senderDomain ? senderDomainHash(e.senderDomain, this.deps.config().senderHashKey) : null));
    const lookupKeys = senderKeys.filter((k): k is string => k !== null);
    const lookup = lookupKeys.length ? await this.deps.featureStore().getSenderFeatures(lookupKeys) : undefined;
    const features = new Float32Array(emails.length * FEATURE_COUNT);
    const known: boolean[] = [];
    let j = 0;
    emails.forEach((email, i) => {
      const sender = senderKeys[i] !== null ? lookup!.features[j] : undefined;
      known.push(senderKeys[i] !== null ? lookup!.found[j] : false);
      if (senderKeys[i] !== null) j++;
      features.set(computeFeatures(email, model.tokens, sender), i * FEATURE_COUNT);
    });
    if (lookup?.degraded) this.deps.warn(`Feast online features unavailable (${lookup.reason}); using the unknown-sender defaults`);
    return { rows: emails.length, features, senderKeys, known, featureStoreDegraded: lookup?.degraded ?? false };
  }

  /** KServe for the environment, or the embedded model of the same version when KServe is unavailable. */
  private async infer(env: Environment, model: ServingModel, prepared: Prepared, requestId: string): Promise<{ probabilities: [number, number][]; fallback: boolean }> {
    const client = this.deps.kserve(env);
    try {
      const result = await client.infer(prepared.features, prepared.rows, { id: requestId });
      if (result.modelVersion !== undefined && result.modelVersion !== model.version) {
        // The features were computed with this version's token table; another version's model would be fed skewed input.
        throw new BadGatewayError(
          `KServe ${env} serves ${model.name} version ${result.modelVersion}, but the gateway's features are for version ${model.version}; deploy matching versions`,
        );
      }
      return { probabilities: result.probabilities, fallback: false };
    } catch (err) {
      if (!(err instanceof KServeUnavailableError)) throw err;
      const config = this.deps.config();
      if (!config.predictFallbackEnabled) throw err;
      const served = client.knownVersion;
      if (served !== undefined && served !== model.version) {
        throw new ServiceUnavailableError(`${err.message}; no embedded fallback for version ${served} (embedded: ${model.version})`, 5);
      }
      this.deps.warn(`${err.message}; answering from the embedded model ${model.name} ${model.version}`);
      return { probabilities: await model.predict(prepared.features, prepared.rows), fallback: true };
    }
  }

  private async run(instances: readonly PredictInstance[], env: Environment, requestId: string, started: number) {
    const model = await this.deps.model(env);
    const prepared = await this.prepare(instances, model);
    const { probabilities, fallback } = await this.infer(env, model, prepared, requestId);
    const threshold = model.threshold ?? this.deps.config().predictThreshold;
    const degraded = fallback || prepared.featureStoreDegraded;
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
        features: prepared.features.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT),
        probability: probabilities[i][1],
        prediction: r.prediction,
        latency_ms: latency,
        degraded,
        sender_key: prepared.senderKeys[i],
      };
      try {
        if (!this.deps.log(record)) this.deps.warn('inference log buffer full: record dropped');
      } catch (err) {
        this.deps.warn(`inference log record rejected: ${(err as Error).message}`);
      }
    });
    return { model, results, degraded, latency };
  }

  async predict(request: PredictRequest, env: Environment, requestId: string, started = performance.now()): Promise<SinglePredictResponse | BatchPredictResponse> {
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

  /** The 50 named features of each email (the seed's Feature Transformer), with the sender lookup it used. */
  async transform(request: PredictRequest, env: Environment): Promise<{ model: { name: string; version: string }; results: TransformResult[]; degraded: boolean }> {
    const instances = request.kind === 'single' ? [request.instance] : request.instances;
    const model = await this.deps.model(env);
    const prepared = await this.prepare(instances, model);
    const results = instances.map((inst, i) => ({
      ...(inst.id !== undefined ? { id: inst.id } : {}),
      features: namedFeatures(prepared.features.subarray(i * FEATURE_COUNT, (i + 1) * FEATURE_COUNT)),
      sender: { known: prepared.known[i], sender_key: prepared.senderKeys[i] },
      degraded: prepared.featureStoreDegraded,
    }));
    return { model: { name: model.name, version: model.version }, results, degraded: prepared.featureStoreDegraded };
  }
}

let service: PredictService | undefined;

/** The app's predict service over the configured KServe backends, Feast store, models and inference logger. */
export function getPredictService(): PredictService {
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
