// The model each environment serves, as the gateway needs it: the model card (name, version, threshold, feature
// list — refused when it differs from this code's), the token table the features are computed with, and the
// embedded ONNX session that answers when KServe is unavailable. One model directory per environment
// (MODEL_DIR_PRODUCTION / MODEL_DIR_STAGING), loaded once on first use; the local V2 server of that environment
// serves the same directory, and in Azure the deployment puts the version KServe serves there.
import path from 'node:path';
import { Environment } from '../blobLayout';
import { getConfig } from '../config';
import { ServiceUnavailableError } from '../errors';
import { TokenTable } from '../features/tokenStats';
import { ModelCard } from '../model/modelCard';
import { committedModelDir, loadModelDirectory, projectRoot } from '../model/modelArtifacts';
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

/** Load a model directory through the model's own loader (card, checksums, token table, ONNX signature). */
export async function loadServingModel(dir: string): Promise<ServingModel> {
  const { card, tokens, onnx } = await loadModelDirectory(dir);
  return {
    name: card.name,
    version: card.version,
    dir,
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

const loaded = new Map<Environment, Promise<ServingModel>>();

/** The environment's model, loaded on first use; a failed load is retried on the next request. */
export function getEnvironmentModel(env: Environment): Promise<ServingModel> {
  let p = loaded.get(env);
  if (!p) {
    p = (async () => {
      const dir = modelDirFor(env);
      try {
        return await loadServingModel(dir);
      } catch (err) {
        if (err instanceof ServiceUnavailableError) throw err;
        throw new ServiceUnavailableError(`the ${env} model in ${dir} cannot be loaded: ${(err as Error).message}`, 30);
      }
    })();
    p.catch(() => loaded.delete(env));
    loaded.set(env, p);
  }
  return p;
}

export async function resetEnvironmentModels(): Promise<void> {
  const all = [...loaded.values()];
  loaded.clear();
  await Promise.all(all.map((p) => p.then((m) => m.onnx.close()).catch(() => undefined)));
}
