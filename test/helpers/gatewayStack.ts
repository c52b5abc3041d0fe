// Shared setup of the gateway tests (not a test file): the two local V2 model servers as child processes, a
// second model version, free ports, and small HTTP helpers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../tools/devhost/azurite';
import { ModelServerProcess, startModelServerProcess } from '../../tools/devhost/modelServer';
import { committedModelDir, MODEL_FILES } from '../../shared/model/modelArtifacts';

/** The version name given to the copy of the committed model that plays the staging model in the tests. */
export const STAGING_TEST_VERSION = 'staging-copy-for-tests';

/**
 * A second model version for routing tests: a copy of the committed model directory whose card says another
 * version (and whose Triton configuration declares it). The ONNX graph and token table are byte-identical (their checksums in the card still hold), so both
 * environments give the same probabilities; only `model.version` tells them apart.
 */
export function copyModelAsVersion(version: string): { dir: string; dispose(): void } {
  const source = committedModelDir();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'model-version-'));
  const dir = path.join(root, version);
  fs.cpSync(source, dir, { recursive: true });
  const cardFile = path.join(dir, 'model.json');
  const card = JSON.parse(fs.readFileSync(cardFile, 'utf8')) as { version: string };
  card.version = version;
  fs.writeFileSync(cardFile, JSON.stringify(card, null, 2));
  // The Triton repository declares the version too: it is what a server loading it from a storageUri answers.
  const tritonConfig = path.join(dir, MODEL_FILES.tritonConfig);
  const declared = fs.readFileSync(tritonConfig, 'utf8').replace(/(string_value:\s*")[^"]*(")/, `$1${version}$2`);
  fs.writeFileSync(tritonConfig, declared);
  return { dir, dispose: () => fs.rmSync(root, { recursive: true, force: true }) };
}

export interface RestartableModelServer {
  readonly url: string;
  readonly port: number;
  current(): ModelServerProcess | undefined;
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A V2 model server child process on a fixed free port that a test can stop and start again (an outage). */
export async function startRestartableModelServer(modelDir: string, environment: string): Promise<RestartableModelServer> {
  const port = await freePort();
  let proc: ModelServerProcess | undefined = await startModelServerProcess({ port, modelDir, environment });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    current: () => proc,
    async stop() {
      await proc?.stop();
      proc = undefined;
    },
    async start() {
      proc ??= await startModelServerProcess({ port, modelDir, environment });
    },
  };
}

export interface JsonResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
}

export async function postJson<T = any>(url: string, body: unknown, headers: Record<string, string> = {}): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: res.status, headers: res.headers, body: parsed as T };
}
