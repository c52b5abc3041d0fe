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
import { Environment } from '../blobLayout';
import { getConfig } from '../config';
import { ServiceUnavailableError } from '../errors';
import { TokenTable } from '../features/tokenStats';
import { ModelCard } from '../model/modelCard';
import { validateModelVersion } from '../modelVersion';
import { committedModelDir, loadModelDirectory, loadModelFromBlob, LoadedModel, modelDirectory, projectRoot } from '../model/modelArtifacts';
import fs from 'node:fs';
import { OnnxModel } from '../model/onnxModel';

export interface ServingModel {
  readonly name: string;
  readonly version: string;
  readonly dir: string;
  readonly card: ModelCard;
  readonly threshold: number | undefined;
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

const current = new Map<Environment, Promise<ServingModel>>();

function unavailable(env: Environment, where: string, err: unknown): ServiceUnavailableError {
  if (err instanceof ServiceUnavailableError) return err;
  return new ServiceUnavailableError(`the ${env} model (${where}) cannot be loaded: ${(err as Error).message}`, 30);
}

/**
 * The environment's model; with `version`, that version (switching the environment to it when KServe reports it).
 * Loaded once; a failed load is retried on the next request.
 */
export function getEnvironmentModel(env: Environment, version?: string): Promise<ServingModel> {
  const existing = current.get(env);
  if (existing && version === undefined) return existing;
  const load = async (): Promise<ServingModel> => {
    if (existing && version !== undefined) {
      const model = await existing.catch(() => undefined);
      if (model?.version === version) return model;
    }
    if (version !== undefined) {
      try {
        // KServe's answer names the version; it becomes a directory and blob path only once it is a valid one.
        return await loadServingModelVersion(validateModelVersion(version));
      } catch (err) {
        throw unavailable(env, `version ${JSON.stringify(version)}`, err);
      }
    }
    const dir = modelDirFor(env);
    try {
      return await loadServingModel(dir);
    } catch (err) {
      throw unavailable(env, dir, err);
    }
  };
  const p = load();
  current.set(env, p);
  p.then(
    (model) => {
      // The previous version's session is released once nothing new can pick it up.
      if (existing) void existing.then((old) => (old !== model ? setTimeout(() => void old.onnx.close(), 10_000).unref() : undefined), () => undefined);
    },
    () => {
      if (current.get(env) === p) {
        if (existing) current.set(env, existing);
        else current.delete(env);
      }
    },
  );
  return p;
}
