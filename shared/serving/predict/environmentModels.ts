// The model each environment serves, as the gateway needs it: the model card (name, version, threshold, feature
// list — refused when it differs from this code's), the token table the features are computed with, and the
// embedded ONNX session that answers when KServe is unavailable.
//
// The gateway starts with one model directory per environment (MODEL_DIR_PRODUCTION / MODEL_DIR_STAGING, default
// the committed model; the local V2 server of that environment serves the same directory). KServe is the
// authority on which version an environment serves: when it answers with another version (a promotion or a
// rollback happened), the gateway switches to that version — from `models/spam-detector/{version}/` in the
// repository when present, else from the models container in Blob — so features are always computed with the
// token table of the model that scores them.
import path from 'node:path';
import { Environment } from '../../platform/blobLayout';
import { getConfig } from '../../platform/config';
import { ServiceUnavailableError } from '../../platform/errors';
import { TokenTable } from '../features/tokenStats';
import { ModelCard } from '../../model/modelCard';
import { validateModelVersion } from '../../model/modelVersion';
import { committedModelDir, loadModelDirectory, loadModelFromBlob, LoadedModel, modelDirectory } from '../../model/modelArtifacts';
import { projectRoot } from '../../platform/projectRoot';
import fs from 'node:fs';
import { OnnxModel } from '../../model/onnxModel';

export interface ServingModel {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly card: ModelCard;
  /** The card's threshold: predict spam when p_spam >= threshold. */
  readonly threshold: number;
  readonly tokens: TokenTable;
  readonly onnx: OnnxModel;
  /** [p_ham, p_spam] per row, from the embedded ONNX model. */
  predict(features: Float32Array, rows: number): Promise<[number, number][]>;
}

export function modelDirFor(env: Environment): string {
  const config = getConfig();
  const configured = env === 'production' ? config.modelDirProduction : config.modelDirStaging;
  return configured ? path.resolve(projectRoot(), configured) : committedModelDir();
}

function servingModel({ card, tokens, onnx, source }: LoadedModel): ServingModel {
  return {
    name: card.name,
    version: card.version,
    dir: source,
    card,
    threshold: card.threshold.value,
    tokens,
    onnx,
    async predict(features, rows) {
      const p = await onnx.predict(features);
      const out: [number, number][] = [];
      for (let i = 0; i < rows; i++) out.push([p[2 * i], p[2 * i + 1]]);
      return out;
    },
  };
}

/** Load a model directory through the model's own loader (card, checksums, token table, ONNX signature). */
export async function loadServingModel(dir: string): Promise<ServingModel> {
  return servingModel(await loadModelDirectory(dir));
}

/** A specific version: the repository's copy when there is one, else the models container. */
export async function loadServingModelVersion(version: string): Promise<ServingModel> {
  const local = modelDirectory(version);
  if (fs.existsSync(`${local}/model.json`)) return loadServingModel(local);
  return servingModel(await loadModelFromBlob(version));
}

/** The model each environment serves now (a pending first load included). */
const current = new Map<Environment, Promise<ServingModel>>();
/** Loads of another version in flight, by `env@version`: requests for that version share one. */
const loading = new Map<string, Promise<ServingModel>>();
/** Versions that failed to load, remembered for the Retry-After the 503 announces. */
const failedLoads = new Map<string, { error: ServiceUnavailableError; until: number }>();
const RETRY_AFTER_S = 30;

function unavailable(env: Environment, where: string, err: unknown): ServiceUnavailableError {
  if (err instanceof ServiceUnavailableError) return err;
  return new ServiceUnavailableError(`the ${env} model (${where}) cannot be loaded: ${(err as Error).message}`, RETRY_AFTER_S);
}

/**
 * The environment's model; with `version`, that version (switching the environment to it when KServe reports it).
 * The model in force keeps serving every request that does not name the new version while it loads: a slow or
 * unreachable Blob delays only the requests that need the new version, never the others. A version that failed to
 * load answers 503 at once for the next RETRY_AFTER_S seconds, then is tried again.
 */
export function getEnvironmentModel(env: Environment, version?: string): Promise<ServingModel> {
  const existing = current.get(env);
  if (version !== undefined) return switchTo(env, version);
  if (existing) return existing;
  const dir = modelDirFor(env);
  const first = loadServingModel(dir).catch((err: unknown) => {
    throw unavailable(env, dir, err);
  });
  current.set(env, first);
  first.catch(() => {
    if (current.get(env) === first) current.delete(env); // a failed first load is retried on the next request
  });
  return first;
}

async function switchTo(env: Environment, version: string): Promise<ServingModel> {
  // Wait for a first load in flight, then read what is in force: a load of this version may have finished meanwhile.
  await current.get(env)?.catch(() => undefined);
  const inForce = await current.get(env)?.catch(() => undefined);
  if (inForce?.version === version) return inForce;
  const key = `${env}@${version}`;
  const failed = failedLoads.get(key);
  if (failed && failed.until > Date.now()) throw failed.error;
  failedLoads.delete(key);
  let load = loading.get(key);
  if (!load) {
    load = (async () => {
      try {
        // KServe's answer names the version; it becomes a directory and blob path only once it is a valid one.
        return await loadServingModelVersion(validateModelVersion(version));
      } catch (err) {
        throw unavailable(env, `version ${JSON.stringify(version)}`, err);
      }
    })();
    loading.set(key, load);
    load.then(
      (model) => {
        loading.delete(key);
        failedLoads.delete(key);
        const previous = current.get(env);
        current.set(env, Promise.resolve(model));
        // The previous version's session is released once nothing new can pick it up.
        void previous?.then(
          (old) => (old !== model ? setTimeout(() => void old.onnx.close(), 10_000).unref() : undefined),
          () => undefined,
        );
      },
      (error: ServiceUnavailableError) => {
        loading.delete(key);
        failedLoads.set(key, { error, until: Date.now() + RETRY_AFTER_S * 1000 });
      },
    );
  }
  return load;
}
