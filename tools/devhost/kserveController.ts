// KServe's controller for the local stack: when the local Kubernetes API (kubeApi.ts) sees a new storageUri on an
// InferenceService, this brings the environment's local V2 model server to it the way KServe brings a predictor
// pod: the storage initializer's part downloads the Triton repository the storageUri names from the models
// container (Azurite under `npm start`) into a folder of its own, then the server loads it (Triton's repository
// load endpoint, modelServer.ts). The InferenceService is Ready once the server answers with the version the
// repository declares; a storageUri with nothing to download, or a repository the server cannot load, fails the
// rollout while the version in force keeps serving.
import type { ContainerClient } from '@azure/storage-blob';
import fs from 'node:fs';
import path from 'node:path';
import { BadGatewayError, BadRequestError, errorMessage, NotFoundError } from '../../shared/platform/errors';
import { Reconciler } from './kubeApi';

export interface KserveControllerOptions {
  /** The models container, as the app reads it. */
  models: ContainerClient;
  /** What storageUris start with: the models container as KServe reaches it (KSERVE_MODELS_URI, else its URL). */
  modelsUri: string;
  /** The model name of the Triton repository (the folder under `triton/`). */
  modelName: string;
  /** Where downloads go: one folder per InferenceService and generation. */
  workDir: string;
  /** The V2 model server of each InferenceService, by name. */
  predictors: ReadonlyMap<string, string>;
  /**
   * A server has loaded `modelDir` (the downloaded Triton repository's model) and answers with `version`; the
   * download stays until the next one is loaded, so a restarted server can load it again.
   */
  loaded?(name: string, modelDir: string, version: string): void;
}

/** The blob prefix a storageUri names in the models container, or undefined when it points elsewhere. */
export function storageUriPrefix(storageUri: string, modelsUri: string): string | undefined {
  const base = `${modelsUri.replace(/\/+$/, '')}/`;
  if (!storageUri.startsWith(base)) return undefined;
  const prefix = storageUri.slice(base.length).replace(/\/*$/, '/');
  return prefix === '/' ? undefined : prefix;
}

async function download(models: ContainerClient, prefix: string, dir: string): Promise<number> {
  let files = 0;
  for await (const blob of models.listBlobsFlat({ prefix })) {
    const file = path.join(dir, ...blob.name.slice(prefix.length).split('/'));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    await models.getBlobClient(blob.name).downloadToFile(file);
    files++;
  }
  return files;
}

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const answer = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new BadGatewayError(answer.error ?? `HTTP ${res.status} from ${url}`);
  return answer;
}

export function kserveController(options: KserveControllerOptions): Reconciler {
  return async ({ name, generation, storageUri }) => {
    const server = options.predictors.get(name);
    if (!server) throw new NotFoundError(`no local model server serves InferenceService ${name}`);
    const prefix = storageUriPrefix(storageUri, options.modelsUri);
    if (!prefix) throw new BadRequestError(`storageUri ${storageUri} is not in the models container ${options.modelsUri}`);
    const parent = path.join(options.workDir, name);
    const dir = path.join(parent, `generation-${generation}`);
    fs.rmSync(dir, { recursive: true, force: true });
    let version: string;
    try {
      const files = await download(options.models, prefix, dir);
      if (!files) throw new NotFoundError(`storage initializer: nothing to download at ${storageUri}`);
      const loaded = (await postJson(`${server}/v2/repository/models/${encodeURIComponent(options.modelName)}/load`, {
        parameters: { model_repository: dir },
      })) as { versions?: string[] };
      const answered = loaded.versions?.[0];
      // Ready means the server answers with the new version, not merely that it accepted the load.
      const metadata = (await (await fetch(`${server}/v2/models/${encodeURIComponent(options.modelName)}`)).json()) as {
        versions?: string[];
      };
      if (!answered || !metadata.versions?.includes(answered)) {
        throw new BadGatewayError(`the model server serves ${JSON.stringify(metadata.versions)} after loading ${storageUri}`);
      }
      version = answered;
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      throw new Error(`failed to load model from ${storageUri}: ${errorMessage(err)}`, { cause: err });
    }
    options.loaded?.(name, path.join(dir, options.modelName), version);
    // The server has loaded the model into memory: older downloads are of no further use (a restart loads this one).
    for (const old of fs.readdirSync(parent))
      if (old !== path.basename(dir)) fs.rmSync(path.join(parent, old), { recursive: true, force: true });
  };
}
