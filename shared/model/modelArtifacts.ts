// A model version's files, where they live, and how they are loaded and published.
//
//   models/spam-detector/{version}/model.onnx                          the graph: features FP32 [n,50] -> probabilities FP32 [n,2]
//   models/spam-detector/{version}/model.json                          the model card (modelCard.ts)
//   models/spam-detector/{version}/tokens.json                         the token table (features/tokenStats.ts)
//   models/spam-detector/{version}/triton/spam-detector/1/model.onnx   Triton model repository (KServe storageUri: .../triton/)
//   models/spam-detector/{version}/triton/spam-detector/config.pbtxt
//   baselines/spam-detector/{version}/baseline.json                    drift baseline (drift/baseline.ts)
//
// The repository's `models/` folder mirrors these two containers: `models/spam-detector/...` is the models
// container, `models/baselines/...` the baselines container. The committed default model lives there, so that
// `npm start` serves predictions right after install and publishes it to a fresh Blob as a deployment would.
import fs from 'node:fs';
import path from 'node:path';
import { CONTAINERS, baselinePath, modelPrefix } from '../platform/blobLayout';
import { downloadBuffer, getContainerClient, isBlobNotFound } from '../platform/blobStorage';
import { sha256 } from '../platform/hash';
import { projectRoot } from '../platform/projectRoot';
import { TokenTable, parseTokenTableFile, tokenTableFromFile } from '../serving/features/tokenStats';
import { ModelCard, ModelCardError, parseModelCard } from './modelCard';
import { OnnxModel } from './onnxModel';

export const MODEL_NAME = 'spam-detector';

/** The version committed under `models/` (what `npm run train` reproduces with its defaults). */
export const COMMITTED_MODEL_VERSION = '1.2.0';

/** File names inside a model version's folder (and blob prefix). */
export const MODEL_FILES = {
  onnx: 'model.onnx',
  card: 'model.json',
  tokens: 'tokens.json',
  tritonOnnx: `triton/${MODEL_NAME}/1/model.onnx`,
  tritonConfig: `triton/${MODEL_NAME}/config.pbtxt`,
} as const;

export const BASELINE_FILE = 'baseline.json';

/** `models/` of the repository: the local mirror of the models and baselines containers. */
export function localModelsRoot(): string {
  return path.join(projectRoot(), 'models');
}

export function modelDirectory(version: string, root = localModelsRoot(), name = MODEL_NAME): string {
  return path.join(root, name, version);
}

export function baselineFile(version: string, root = localModelsRoot(), name = MODEL_NAME): string {
  return path.join(root, CONTAINERS.baselines, name, version, BASELINE_FILE);
}

/** The committed default model's folder. */
export function committedModelDir(): string {
  return modelDirectory(COMMITTED_MODEL_VERSION);
}

/** A model ready to serve: its card, its token table and a loaded ONNX session. */
export interface LoadedModel {
  readonly card: ModelCard;
  readonly tokens: TokenTable;
  readonly onnx: OnnxModel;
  /** Where it came from (a folder or a blob prefix). */
  readonly source: string;
}

export interface ModelFileBytes {
  readonly card: Buffer;
  readonly tokens: Buffer;
  readonly onnx: Buffer;
}

/**
 * Check and load a model's files: the card must validate and list exactly FEATURE_NAMES (else ModelCardError),
 * and the ONNX file and token table must be the ones the card names (sha256), so that a half-copied folder or a
 * token table from another training run cannot be served.
 */
export async function loadModelFiles(files: ModelFileBytes, source: string): Promise<LoadedModel> {
  const card = parseModelCard(parseJson(files.card, `${source}/${MODEL_FILES.card}`), `${source}/${MODEL_FILES.card}`);
  for (const [name, bytes] of [
    [MODEL_FILES.onnx, files.onnx],
    [MODEL_FILES.tokens, files.tokens],
  ] as const) {
    const expected = card.files.sha256[name];
    if (expected && expected !== sha256(bytes)) {
      throw new ModelCardError(`${source}/${name}: sha256 differs from the one in model.json; the files are from different training runs`);
    }
  }
  const tokens = tokenTableFromFile(parseTokenTableFile(parseJson(files.tokens, `${source}/${MODEL_FILES.tokens}`)));
  const onnx = await OnnxModel.load(new Uint8Array(files.onnx));
  return { card, tokens, onnx, source };
}

function parseJson(bytes: Buffer, source: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ModelCardError(`${source}: not JSON (${(err as Error).message})`);
  }
}

/** Load a model version's folder (model.json + tokens.json + model.onnx). */
export async function loadModelDirectory(dir: string): Promise<LoadedModel> {
  const read = (name: string) => {
    const file = path.join(dir, name);
    if (!fs.existsSync(file))
      throw new ModelCardError(`${file}: missing; a model folder holds ${Object.values(MODEL_FILES).slice(0, 3).join(', ')}`);
    return fs.readFileSync(file);
  };
  return loadModelFiles({ card: read(MODEL_FILES.card), tokens: read(MODEL_FILES.tokens), onnx: read(MODEL_FILES.onnx) }, dir);
}

/** Load a model version from the models container. */
export async function loadModelFromBlob(version: string, name = MODEL_NAME): Promise<LoadedModel> {
  return loadModelFromBlobPrefix(modelPrefix(name, version));
}

/** Load the model files under a prefix of the models container (a version, or a challenger kept for inspection). */
export async function loadModelFromBlobPrefix(prefix: string): Promise<LoadedModel> {
  const get = async (file: string) => {
    const bytes = await downloadBuffer(CONTAINERS.models, prefix + file);
    if (!bytes) throw new ModelCardError(`${CONTAINERS.models}/${prefix}${file}: not found`);
    return bytes;
  };
  const [card, tokens, onnx] = await Promise.all([get(MODEL_FILES.card), get(MODEL_FILES.tokens), get(MODEL_FILES.onnx)]);
  return loadModelFiles({ card, tokens, onnx }, `${CONTAINERS.models}/${prefix}`);
}

export interface PublishResult {
  readonly uploaded: string[];
  readonly skipped: string[];
}

const contentTypes: Record<string, string> = { '.json': 'application/json', '.onnx': 'application/octet-stream', '.pbtxt': 'text/plain' };

/** The content type a model file is stored with, by its extension. */
export function modelFileContentType(file: string): string {
  return contentTypes[path.posix.extname(file)] ?? 'application/octet-stream';
}

async function uploadFile(container: string, blobName: string, file: string, overwrite: boolean): Promise<boolean> {
  const blob = getContainerClient(container).getBlockBlobClient(blobName);
  const bytes = fs.readFileSync(file);
  try {
    await blob.uploadData(bytes, {
      blobHTTPHeaders: { blobContentType: modelFileContentType(file) },
      // Without overwrite, an existing blob wins: a deployment never replaces a published version behind its back.
      conditions: overwrite ? undefined : { ifNoneMatch: '*' },
    });
    return true;
  } catch (err) {
    const e = err as { statusCode?: number };
    if (!overwrite && (e.statusCode === 409 || e.statusCode === 412)) return false;
    if (isBlobNotFound(err)) throw new Error(`container '${container}' does not exist; create it first`, { cause: err });
    throw err;
  }
}

/**
 * Upload a model version's folder to `models/{name}/{version}/` and its baseline to
 * `baselines/{name}/{version}/baseline.json`. The baseline goes last: writing it is the event that activates it,
 * and by then the model it describes is in place. Existing blobs are kept unless `overwrite`.
 */
export async function publishModel(
  modelDir: string,
  baseline: string | undefined,
  options: { name?: string; version: string; overwrite?: boolean },
): Promise<PublishResult> {
  const name = options.name ?? MODEL_NAME;
  const prefix = modelPrefix(name, options.version);
  const result: PublishResult = { uploaded: [], skipped: [] };
  for (const file of Object.values(MODEL_FILES)) {
    const target = `${CONTAINERS.models}/${prefix}${file}`;
    const done = await uploadFile(CONTAINERS.models, prefix + file, path.join(modelDir, file), !!options.overwrite);
    (done ? result.uploaded : result.skipped).push(target);
  }
  if (baseline) {
    const target = baselinePath(name, options.version);
    const done = await uploadFile(CONTAINERS.baselines, target, baseline, !!options.overwrite);
    (done ? result.uploaded : result.skipped).push(`${CONTAINERS.baselines}/${target}`);
  }
  return result;
}

/**
 * `npm start`: publish the committed model and its baseline to Blob when they are missing there, as a deployment
 * would, so that the baseline event and drift detection work on a fresh machine.
 */
export async function publishCommittedModel(log: (message: string) => void = () => undefined): Promise<PublishResult> {
  const result = await publishModel(committedModelDir(), baselineFile(COMMITTED_MODEL_VERSION), { version: COMMITTED_MODEL_VERSION });
  log(
    result.uploaded.length
      ? `Model ${MODEL_NAME} ${COMMITTED_MODEL_VERSION}: published ${result.uploaded.length} committed file(s) to Blob (${result.uploaded.join(', ')})`
      : `Model ${MODEL_NAME} ${COMMITTED_MODEL_VERSION}: already in Blob`,
  );
  return result;
}
