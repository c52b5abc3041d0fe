// The local stand-in for KServe: an Open Inference Protocol (V2 REST) server backed by onnxruntime-node, one per
// environment, each serving its own model directory (and so its own model version). It implements the subset of
// kserve/open-inference-protocol specification/protocol/inference_rest.md the gateway uses, with the exact JSON
// shapes, so the same client talks to it and to Triton in AKS:
//   GET  /v2/health/live | /v2/health/ready | /v2
//   GET  /v2/models/{name}[/versions/{version}] | .../ready
//   POST /v2/models/{name}[/versions/{version}]/infer
//   POST /v2/repository/models/{name}/load   (when started with a loader: the local Kubernetes API's controller)
// Errors are `{ "error": "..." }` with 400 (bad request) or 404 (unknown model/version), as KServe answers.
//
// Run standalone (what `npm start` does, one child process per environment):
//   node dist/tools/devhost/modelServer.js --port 8080 --model-dir models/spam-detector/<version> [--environment production]
//   node dist/tools/devhost/modelServer.js --port 8080 --triton-model DIR   (a Triton repository's model, as loaded by the controller)
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import { FEATURE_COUNT } from '../../shared/serving/features/featureList';
import { INPUT_NAME, OnnxModel, OUTPUT_NAME } from '../../shared/model/onnxModel';
import { loadServingModel } from '../../shared/serving/predict/environmentModels';
import { errorMessage } from '../../shared/platform/errors';
import { compiledScript, spawnOwnedChild, stopChild, stopWithParent } from './ownedChild';

export interface TensorSpec {
  name: string;
  datatype: string;
  /** -1 for the batch dimension. */
  shape: number[];
}

/** What the server needs from a model: its identity, tensor specs, and a batch run. */
export interface ModelBackend {
  readonly name: string;
  readonly version: string;
  readonly platform: string;
  readonly input: TensorSpec & { width: number };
  readonly outputs: readonly TensorSpec[];
  /** Run `rows` rows of FP32 input; returns every output, row-major. */
  run(input: Float32Array, rows: number): Promise<Record<string, ArrayLike<number>>>;
  /** Served at GET .../config (Triton's model configuration extension) when present. */
  readonly config?: Record<string, unknown>;
}

export class V2Error extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const MAX_BODY_BYTES = 64 * 1024 * 1024;

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const payload = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': payload.length });
  res.end(payload);
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new V2Error(400, `request body larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Row-major flattening of nested `data`, checking it is a rectangular array of numbers of `shape`. */
function flattenData(data: unknown, shape: number[], name: string): number[] {
  const total = shape.reduce((a, b) => a * b, 1);
  const flat = Array.isArray(data) ? (data as unknown[]).flat(Infinity) : undefined;
  if (!flat) throw new V2Error(400, `input '${name}': 'data' must be an array`);
  if (flat.length !== total) {
    throw new V2Error(400, `input '${name}': shape ${JSON.stringify(shape)} needs ${total} elements, got ${flat.length}`);
  }
  for (const v of flat) {
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new V2Error(400, `input '${name}': FP32 data must be finite numbers`);
  }
  return flat as number[];
}

function parseInferRequest(body: Buffer, model: ModelBackend): { id?: string; features: Float32Array; rows: number; outputs: string[] } {
  let req: unknown;
  try {
    req = JSON.parse(body.toString('utf8'));
  } catch {
    throw new V2Error(400, 'request body is not valid JSON');
  }
  if (!isObject(req)) throw new V2Error(400, 'request body must be a JSON object');
  if (req.id !== undefined && typeof req.id !== 'string') throw new V2Error(400, "'id' must be a string");
  if (!Array.isArray(req.inputs) || req.inputs.length === 0) throw new V2Error(400, "'inputs' must be a non-empty array");
  if (req.inputs.length !== 1) throw new V2Error(400, `model '${model.name}' expects 1 input, got ${req.inputs.length}`);
  const input = req.inputs[0] as unknown;
  if (!isObject(input)) throw new V2Error(400, 'each input must be an object');
  if (input.name !== model.input.name) {
    throw new V2Error(400, `unexpected input name ${JSON.stringify(input.name)}: model '${model.name}' expects '${model.input.name}'`);
  }
  if (input.datatype !== model.input.datatype) {
    throw new V2Error(
      400,
      `input '${model.input.name}': datatype ${JSON.stringify(input.datatype)} does not match the model's ${model.input.datatype}`,
    );
  }
  const shape = input.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && (d as number) >= 0)) {
    throw new V2Error(400, `input '${model.input.name}': 'shape' must be an array of non-negative integers`);
  }
  if (shape.length !== 2 || shape[1] !== model.input.width || (shape[0] as number) < 1) {
    throw new V2Error(
      400,
      `input '${model.input.name}': shape ${JSON.stringify(shape)} does not match the model's [-1, ${model.input.width}]`,
    );
  }
  const data = flattenData(input.data, shape as number[], model.input.name);
  let outputs = model.outputs.map((o) => o.name);
  if (req.outputs !== undefined) {
    if (!Array.isArray(req.outputs)) throw new V2Error(400, "'outputs' must be an array");
    outputs = req.outputs.map((o: unknown) => {
      if (!isObject(o) || typeof o.name !== 'string') throw new V2Error(400, "each requested output needs a 'name'");
      if (!model.outputs.some((m) => m.name === o.name)) throw new V2Error(400, `unexpected output name '${o.name}'`);
      return o.name;
    });
  }
  return { id: req.id, features: Float32Array.from(data), rows: shape[0] as number, outputs };
}

function modelMetadata(model: ModelBackend) {
  return {
    name: model.name,
    versions: [model.version],
    platform: model.platform,
    inputs: [{ name: model.input.name, datatype: model.input.datatype, shape: model.input.shape }],
    outputs: model.outputs.map((o) => ({ name: o.name, datatype: o.datatype, shape: o.shape })),
  };
}

/** Route one request; returns [status, body]. */
async function handle(served: ServedModel, method: string, pathname: string, req: http.IncomingMessage): Promise<[number, unknown]> {
  const parts = pathname.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== 'v2') throw new V2Error(404, `no route for ${pathname}`);
  if (parts[1] === 'repository') return handleRepository(served, method, parts, req);
  // A request that began on one version finishes on it while a load swaps in the next.
  const model = served.model;
  if (parts.length === 1) {
    if (method !== 'GET') throw new V2Error(405, `${method} not allowed on ${pathname}`);
    return [200, { name: 'spam-detection-local-v2', version: '2', extensions: [] }];
  }
  if (parts[1] === 'health' && parts.length === 3 && (parts[2] === 'live' || parts[2] === 'ready')) {
    if (method !== 'GET') throw new V2Error(405, `${method} not allowed on ${pathname}`);
    // inference_rest.md prints the server-ready object as { "live": $bool } (an evident copy of the live one); KServe's
    // own server answers { "ready": true }, and clients judge readiness by the 200 status anyway.
    return [200, parts[2] === 'live' ? { live: true } : { ready: true }];
  }
  if (parts[1] !== 'models' || parts.length < 3) throw new V2Error(404, `no route for ${pathname}`);
  const name = parts[2];
  let rest = parts.slice(3);
  if (name !== model.name) throw new V2Error(404, `model '${name}' is not served here (serving '${model.name}')`);
  if (rest[0] === 'versions') {
    if (rest.length < 2) throw new V2Error(404, `no route for ${pathname}`);
    if (rest[1] !== model.version) throw new V2Error(404, `model '${name}' has no version '${rest[1]}' (serving '${model.version}')`);
    rest = rest.slice(2);
  }
  if (rest.length === 0) {
    if (method !== 'GET') throw new V2Error(405, `${method} not allowed on ${pathname}`);
    return [200, modelMetadata(model)];
  }
  if (rest.length === 1 && rest[0] === 'config' && method === 'GET') {
    if (!model.config) throw new V2Error(404, `model '${model.name}' has no configuration endpoint here`);
    return [200, model.config];
  }
  if (rest.length === 1 && rest[0] === 'ready') {
    if (method !== 'GET') throw new V2Error(405, `${method} not allowed on ${pathname}`);
    return [200, { name: model.name, ready: true }];
  }
  if (rest.length === 1 && rest[0] === 'infer') {
    if (method !== 'POST') throw new V2Error(405, `${method} not allowed on ${pathname}`);
    if (req.headers['inference-header-content-length'] !== undefined) {
      throw new V2Error(400, 'the binary tensor data extension is not supported by this server; send JSON tensors');
    }
    const parsed = parseInferRequest(await readBody(req), model);
    const results = await model.run(parsed.features, parsed.rows);
    const outputs = parsed.outputs.map((name) => {
      const spec = model.outputs.find((o) => o.name === name)!;
      const data = Array.from(results[name]);
      return { name, datatype: spec.datatype, shape: [parsed.rows, data.length / parsed.rows], data };
    });
    return [200, { model_name: model.name, model_version: model.version, ...(parsed.id !== undefined ? { id: parsed.id } : {}), outputs }];
  }
  throw new V2Error(404, `no route for ${pathname}`);
}

/** Loads a model from a directory, for POST /v2/repository/models/{name}/load. */
export type ModelLoader = (dir: string) => Promise<ModelBackend & { close(): Promise<void> }>;

interface ServedModel {
  model: ModelBackend & { close?(): Promise<void> };
  readonly loader?: ModelLoader;
  /** Loads one at a time, so the last one asked for is the one that stays. */
  loading: Promise<unknown>;
}

/** How long a replaced model's session stays open for requests still running on it. */
const RETIRE_AFTER_MS = 10_000;

/**
 * Triton's model repository extension (POST v2/repository/models/{name}/load), with one parameter of this server:
 * `model_repository`, the directory holding the Triton repository to load the model from (KServe's storage
 * initializer downloads into /mnt/models; locally the controller of tools/devhost/kubeApi.ts downloads into
 * .local/). The model in force serves until the new one has loaded; a failed load leaves it serving.
 */
async function handleRepository(
  served: ServedModel,
  method: string,
  parts: string[],
  req: http.IncomingMessage,
): Promise<[number, unknown]> {
  if (parts.length !== 5 || parts[2] !== 'models' || parts[4] !== 'load') throw new V2Error(404, `no route for /${parts.join('/')}`);
  if (method !== 'POST') throw new V2Error(405, `${method} not allowed on /${parts.join('/')}`);
  if (!served.loader) throw new V2Error(404, 'this server does not load models on request');
  const loader = served.loader;
  const name = parts[3];
  let body: unknown;
  try {
    body = JSON.parse((await readBody(req)).toString('utf8') || '{}');
  } catch {
    throw new V2Error(400, 'request body is not valid JSON');
  }
  const dir = isObject(body) && isObject(body.parameters) ? body.parameters.model_repository : undefined;
  if (typeof dir !== 'string' || !dir) throw new V2Error(400, "parameters.model_repository must name the repository's directory");
  const load = served.loading.then(async () => {
    let next: ModelBackend & { close(): Promise<void> };
    try {
      next = await loader(path.join(dir, name));
    } catch (err) {
      throw new V2Error(400, `failed to load '${name}' from ${dir}: ${errorMessage(err)}`);
    }
    if (next.name !== name) {
      await next.close();
      throw new V2Error(400, `the repository in ${dir} holds model '${next.name}', not '${name}'`);
    }
    const previous = served.model;
    served.model = next;
    if (previous.close) setTimeout(() => void previous.close?.(), RETIRE_AFTER_MS).unref();
    return next;
  });
  served.loading = load.catch(() => undefined);
  const loaded = await load;
  return [200, { name: loaded.name, versions: [loaded.version] }];
}

export interface ModelServer {
  readonly url: string;
  readonly port: number;
  /** The model served now. */
  readonly model: ModelBackend & { close?(): Promise<void> };
  close(): Promise<void>;
}

export function startModelServer(
  model: ModelBackend & { close?(): Promise<void> },
  options: { port: number; host?: string; loader?: ModelLoader },
): Promise<ModelServer> {
  const served: ServedModel = { model, loader: options.loader, loading: Promise.resolve() };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    handle(served, (req.method ?? 'GET').toUpperCase(), url.pathname, req)
      .then(([status, body]) => sendJson(res, status, body))
      .catch((err: unknown) => {
        if (err instanceof V2Error) return sendJson(res, err.status, { error: err.message });
        sendJson(res, 500, { error: `inference failed: ${errorMessage(err)}` });
      });
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '127.0.0.1', () => {
      const port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://127.0.0.1:${port}`,
        port,
        get model() {
          return served.model;
        },
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * A model directory (model.json + tokens + ONNX) as a V2 backend, run through the project's OnnxModel. With
 * `tritonVersioning` it versions like Triton does in AKS: model_version "1" (the repository directory) and the
 * project version only in the configuration's `parameters.model_version`.
 */
export async function loadModelBackend(
  dir: string,
  options: { name?: string; tritonVersioning?: boolean } = {},
): Promise<ModelBackend & { close(): Promise<void> }> {
  const m = await loadServingModel(dir);
  const name = options.name ?? m.name;
  return onnxBackend(m.onnx, {
    name,
    version: options.tritonVersioning ? '1' : m.version,
    ...(options.tritonVersioning
      ? { config: { name, backend: 'onnxruntime', parameters: { model_version: { string_value: m.version } } } }
      : {}),
  });
}

function onnxBackend(
  onnx: OnnxModel,
  identity: { name: string; version: string; config?: Record<string, unknown> },
): ModelBackend & { close(): Promise<void> } {
  return {
    ...identity,
    platform: 'onnxruntime_onnx',
    input: { name: INPUT_NAME, datatype: 'FP32', shape: [-1, FEATURE_COUNT], width: FEATURE_COUNT },
    outputs: [{ name: OUTPUT_NAME, datatype: 'FP32', shape: [-1, 2] }],
    run: async (input) => ({ [OUTPUT_NAME]: await onnx.predict(input) }),
    close: () => onnx.close(),
  };
}

/** `parameters { key: "model_version" value: { string_value: "…" } }` of a config.pbtxt (training/onnxExport.ts writes it). */
function declaredVersion(pbtxt: string): string | undefined {
  return /key:\s*"model_version"\s*value:\s*\{\s*string_value:\s*"([^"]+)"/.exec(pbtxt)?.[1];
}

/**
 * A model of a Triton repository (`{dir}/config.pbtxt` + `{dir}/1/model.onnx`, what a storageUri names) as a V2
 * backend. It answers the version config.pbtxt declares as `model_version`, as the server does for a model
 * directory, so the gateway sees the same version whichever way the model was loaded.
 */
export async function loadTritonModelBackend(dir: string): Promise<ModelBackend & { close(): Promise<void> }> {
  const configFile = path.join(dir, 'config.pbtxt');
  const onnxFile = path.join(dir, '1', 'model.onnx');
  for (const file of [configFile, onnxFile]) if (!fs.existsSync(file)) throw new Error(`${file}: missing`);
  const pbtxt = fs.readFileSync(configFile, 'utf8');
  const name = /^name:\s*"([^"]+)"/m.exec(pbtxt)?.[1] ?? path.basename(dir);
  const version = declaredVersion(pbtxt);
  if (!version) throw new Error(`${configFile}: declares no parameters model_version`);
  return onnxBackend(await OnnxModel.load(onnxFile), { name, version });
}

export interface ModelServerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ModelServerProcess {
  readonly url: string;
  readonly port: number;
  readonly version: string;
  readonly pid: number | undefined;
  /** Settles when the process has exited, for whatever reason. */
  readonly exited: Promise<ModelServerExit>;
  stop(): Promise<void>;
}

/**
 * Run the server as a child process (`npm start` and the tests): KServe is a separate process in AKS, and a
 * separate process can be stopped and started to inject an outage. It is owned by this process (ownedChild.ts): out
 * of the terminal's process group, and gone when this process is.
 */
export async function startModelServerProcess(options: {
  port: number;
  /** A model directory (model.json, tokens, ONNX), or with `triton` a model of a Triton repository, as a storageUri names it. */
  modelDir: string;
  triton?: boolean;
  environment: string;
  timeoutMs?: number;
}): Promise<ModelServerProcess> {
  const child = spawnOwnedChild(
    compiledScript('tools', 'devhost', 'modelServer.js'),
    [
      '--port',
      String(options.port),
      options.triton ? '--triton-model' : '--model-dir',
      options.modelDir,
      '--environment',
      options.environment,
    ],
    { stdout: 'pipe' },
  );
  const exited = new Promise<ModelServerExit>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let output = '';
  child.stderr?.on('data', (d) => (output += d));
  const ready = await new Promise<{ url: string; version: string }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`V2 model server (${options.environment}) did not start in time: ${output}`));
    }, options.timeoutMs ?? 20000);
    child.stdout?.on('data', (d) => {
      output += d;
      const m = /V2 model server listening on (\S+) serving \S+ version (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], version: m[2] });
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`V2 model server (${options.environment}) exited with ${code ?? signal}: ${output.trim()}`));
    });
  });
  const port = Number(new URL(ready.url).port);
  return {
    url: ready.url,
    port,
    version: ready.version,
    pid: child.pid,
    exited,
    stop: () => stopChild(child, (c) => c.kill('SIGTERM')),
  };
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<void> {
  let server: ModelServer | undefined;
  let stopping = false;
  const stop = () => {
    // Asked once or three times (a signal, then the parent's channel closing as it exits): stopped once.
    if (stopping) return;
    stopping = true;
    if (!server) process.exit(0);
    // Exits whether or not closing succeeds, so nothing is left to handle a rejection.
    void server
      .close()
      .then(() => server?.model.close?.())
      .finally(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  // Before the model loads (a second or more): a parent that dies meanwhile must not leave this server behind.
  stopWithParent(stop);

  const args = process.argv.slice(2);
  const dir = argValue(args, '--model-dir');
  const tritonModel = argValue(args, '--triton-model');
  if (!dir === !tritonModel) {
    throw new Error('usage: modelServer (--model-dir DIR [--model-name NAME] | --triton-model DIR) [--port N] [--environment NAME]');
  }
  const backend = tritonModel
    ? await loadTritonModelBackend(tritonModel)
    : await loadModelBackend(dir!, { name: argValue(args, '--model-name') });
  server = await startModelServer(backend, { port: Number(argValue(args, '--port') ?? 8080), loader: loadTritonModelBackend });
  const env = argValue(args, '--environment') ?? 'local';
  console.log(`V2 model server listening on ${server.url} serving ${backend.name} version ${backend.version} (${env})`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`V2 model server failed: ${errorMessage(err)}`);
    process.exit(1);
  });
}
