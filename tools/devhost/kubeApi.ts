// A Kubernetes API for the two InferenceServices, served on loopback: what `npm start` gives the app in place of a
// cluster (tools/cli/start.ts), and what the tests of the KServe client and the promotion run against. The few
// endpoints the app uses:
//   GET   /apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices/{name}
//   PATCH  the same path, Content-Type application/merge-patch+json (RFC 7386)
// The shapes are recorded from the documentation, not invented:
// - the InferenceService object and its status (url, address.url, observedGeneration, conditions IngressReady /
//   PredictorReady / Ready with status "True"|"False"|"Unknown", reason, message, lastTransitionTime) as the
//   KServe docs print them after `kubectl get isvc -o yaml` (kserve/website, "First InferenceService", raw
//   deployment autoscaling pages);
// - errors as a metav1.Status body (kind Status, apiVersion v1, status Failure, message, reason NotFound |
//   Conflict | UnsupportedMediaType | Unauthorized, details, code), per the Kubernetes API conventions;
// - merge-patch semantics: null deletes a key, objects merge, everything else replaces; a patch that carries
//   metadata.resourceVersion is a precondition (409 Conflict when stale); metadata.generation increases only
//   when spec changes; resourceVersion changes on every write; custom resources do not accept
//   strategic-merge-patch (415).
// KServe's controller is a `Reconciler`: after a spec change Ready is Unknown for the new generation until the
// reconciler settles, then True, or False with reason ModelLoadFailed when it fails. Without one, a timer plays
// the controller (`readyAfterMs`, `brokenStorageUris`): the tests of the client and the promotion need no model
// servers. `npm start` passes the one of kserveController.ts, which loads the version into a local V2 model server.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { errorMessage } from '../../shared/platform/errors';

/** A self-signed certificate for 127.0.0.1 (API servers always speak TLS; the client verifies it with caData). */
function selfSignedCert(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-kube-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '365',
        '-subj',
        '/CN=local-kube-apiserver',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
      ],
      { stdio: 'ignore' },
    );
    return { key: fs.readFileSync(path.join(dir, 'key.pem'), 'utf8'), cert: fs.readFileSync(path.join(dir, 'cert.pem'), 'utf8') };
  } catch (err) {
    throw new Error(`cannot make the local Kubernetes API's TLS certificate with openssl: ${errorMessage(err)}`, { cause: err });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface InferenceServiceSeed {
  name: string;
  namespace: string;
  storageUri: string;
  annotations?: Record<string, string>;
  minReplicas?: number;
  maxReplicas?: number;
}

/** The spec change a reconciler brings about. */
export interface ReconcileRequest {
  namespace: string;
  name: string;
  generation: number;
  storageUri: string;
}

/**
 * KServe's part: make the predictor serve `storageUri`. Resolves once it serves it; rejects when it cannot (the
 * rejection's message becomes the Ready condition's). Calls for one InferenceService never overlap, and a call whose
 * generation a newer patch has replaced before its turn is skipped.
 */
export type Reconciler = (request: ReconcileRequest) => Promise<void>;

export interface LocalKubeApi {
  readonly url: string;
  readonly port: number;
  /** Base64 PEM of the server certificate, as kubeconfig `certificate-authority-data` holds it. */
  readonly caData: string;
  /** The last requests seen, for assertions on method, path and content type. */
  readonly requests: Array<{ method: string; path: string; contentType?: string; authorization?: string }>;
  addInferenceService(o: InferenceServiceSeed): void;
  get(namespace: string, name: string): StoredInferenceService | undefined;
  /** Without a reconciler: storageUris whose rollout fails (Ready=False, like a model Triton cannot load). */
  readonly brokenStorageUris: Set<string>;
  /** Without a reconciler: delay between a spec change and Ready. */
  readyAfterMs: number;
  /** Called before a PATCH is applied: lets a test play a concurrent writer (return true when it wrote). */
  onPatch?: (obj: StoredInferenceService) => boolean;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  requiredToken?: string;
  close(): Promise<void>;
}

type Obj = Record<string, unknown>;

/** An InferenceService as this API stores it (the fields it sets or reads; a patch may add others). */
export interface StoredInferenceService {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    creationTimestamp: string;
    annotations: Record<string, string>;
  } & Obj;
  spec: {
    predictor: { minReplicas?: number; maxReplicas?: number; model: { storageUri?: string } & Obj } & Obj;
  } & Obj;
  status: { observedGeneration?: number; conditions?: Obj[] } & Obj;
}

/** Enough to assert on; a long-running `npm start` must not keep every poll. */
const MAX_RECORDED_REQUESTS = 1000;

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Obj = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [k, v] of Object.entries(patch as Obj)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function conditions(state: 'True' | 'False' | 'Unknown', time: string, reason?: string, message?: string): Obj[] {
  const c = (type: string, s: string) => ({
    type,
    status: s,
    lastTransitionTime: time,
    ...(reason && s !== 'True' ? { reason, message } : {}),
  });
  return [c('IngressReady', 'True'), c('PredictorReady', state), c('Ready', state)];
}

export async function startLocalKubeApi(options: { port?: number; reconcile?: Reconciler } = {}): Promise<LocalKubeApi> {
  const objects = new Map<string, StoredInferenceService>();
  const timers = new Set<NodeJS.Timeout>();
  /** The reconciliation chain of each InferenceService: one at a time, in patch order. */
  const queues = new Map<string, Promise<void>>();
  let resourceVersion = 1000;
  let closed = false;
  const key = (ns: string, name: string) => `${ns}/${name}`;

  const timedReconciler: Reconciler = (request) =>
    new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        timers.delete(t);
        if (api.brokenStorageUris.has(request.storageUri)) {
          reject(new Error(`failed to load model from ${request.storageUri}: storage initializer exited with code 1`));
        } else resolve();
      }, api.readyAfterMs);
      timers.add(t);
    });
  const reconciler = options.reconcile ?? timedReconciler;

  const current = (k: string, generation: number): StoredInferenceService | undefined => {
    const obj = objects.get(k);
    return !closed && obj?.metadata.generation === generation ? obj : undefined;
  };

  const reconcile = (obj: StoredInferenceService) => {
    const k = key(obj.metadata.namespace, obj.metadata.name);
    const generation = obj.metadata.generation;
    obj.status = {
      ...obj.status,
      observedGeneration: generation,
      conditions: conditions('Unknown', new Date().toISOString(), 'PredictorNotReady', 'Deployment does not have minimum availability.'),
    };
    const run = async () => {
      if (!current(k, generation)) return;
      let failure: string | undefined;
      try {
        await reconciler({
          namespace: obj.metadata.namespace,
          name: obj.metadata.name,
          generation,
          storageUri: obj.spec.predictor.model.storageUri ?? '',
        });
      } catch (err) {
        failure = errorMessage(err);
      }
      const latest = current(k, generation);
      if (!latest) return;
      const done = new Date().toISOString();
      latest.status = {
        ...latest.status,
        conditions: failure ? conditions('False', done, 'ModelLoadFailed', failure) : conditions('True', done),
      };
      latest.metadata.resourceVersion = String(++resourceVersion);
    };
    queues.set(k, (queues.get(k) ?? Promise.resolve()).then(run));
  };

  const tls = selfSignedCert();
  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const send = (code: number, json: unknown) => {
        res.writeHead(code, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      api.requests.push({
        method: req.method ?? '',
        path,
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
      });
      if (api.requests.length > MAX_RECORDED_REQUESTS) api.requests.shift();
      if (api.requiredToken && req.headers.authorization !== `Bearer ${api.requiredToken}`) {
        return send(401, status(401, 'Unauthorized', 'Unauthorized'));
      }
      const m = /^\/apis\/serving\.kserve\.io\/v1beta1\/namespaces\/([^/]+)\/inferenceservices\/([^/]+)$/.exec(path);
      if (!m) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      const [ns, name] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
      const obj = objects.get(key(ns, name));
      const notFound = () =>
        send(
          404,
          status(404, 'NotFound', `inferenceservices.serving.kserve.io "${name}" not found`, {
            name,
            group: 'serving.kserve.io',
            kind: 'inferenceservices',
          }),
        );
      if (req.method === 'GET') return obj ? send(200, obj) : notFound();
      if (req.method !== 'PATCH') return send(405, status(405, 'MethodNotAllowed', `method ${req.method} not allowed`));
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim();
      if (type !== 'application/merge-patch+json') {
        return send(
          415,
          status(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
          ),
        );
      }
      if (!obj) return notFound();
      let patch: { metadata?: { resourceVersion?: unknown } } | null;
      try {
        patch = JSON.parse(body) as typeof patch;
      } catch (err) {
        return send(400, status(400, 'BadRequest', `error decoding patch: ${errorMessage(err)}`));
      }
      if (api.onPatch?.(obj)) obj.metadata.resourceVersion = String(++resourceVersion);
      const precondition = patch?.metadata?.resourceVersion;
      if (precondition !== undefined && precondition !== obj.metadata.resourceVersion) {
        return send(
          409,
          status(
            409,
            'Conflict',
            `Operation cannot be fulfilled on inferenceservices.serving.kserve.io "${name}": the object has been modified; please apply your changes to the latest version and try again`,
            { name, group: 'serving.kserve.io', kind: 'inferenceservices' },
          ),
        );
      }
      const next = mergePatch(obj, patch) as StoredInferenceService;
      // Status is a subresource: a patch of the main resource cannot change it; nor these server-set fields.
      next.status = obj.status;
      next.metadata = {
        ...next.metadata,
        name,
        namespace: ns,
        uid: obj.metadata.uid,
        generation: obj.metadata.generation,
        resourceVersion: String(++resourceVersion),
      };
      const specChanged = JSON.stringify(next.spec) !== JSON.stringify(obj.spec);
      if (specChanged) next.metadata.generation = obj.metadata.generation + 1;
      objects.set(key(ns, name), next);
      if (specChanged) reconcile(next);
      send(200, next);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;

  const api: LocalKubeApi = {
    url: `https://127.0.0.1:${port}`,
    port,
    caData: Buffer.from(tls.cert).toString('base64'),
    requests: [],
    brokenStorageUris: new Set(),
    readyAfterMs: 50,
    addInferenceService(o) {
      const now = new Date().toISOString();
      objects.set(key(o.namespace, o.name), {
        apiVersion: 'serving.kserve.io/v1beta1',
        kind: 'InferenceService',
        metadata: {
          name: o.name,
          namespace: o.namespace,
          uid: `00000000-0000-4000-8000-${String(objects.size + 1).padStart(12, '0')}`,
          generation: 1,
          resourceVersion: String(++resourceVersion),
          creationTimestamp: now,
          annotations: {
            'serving.kserve.io/deploymentMode': 'Standard',
            'serving.kserve.io/autoscalerClass': 'hpa',
            ...o.annotations,
          },
        },
        spec: {
          predictor: {
            minReplicas: o.minReplicas ?? 1,
            maxReplicas: o.maxReplicas ?? 3,
            scaleMetric: 'cpu',
            scaleTarget: 80,
            model: { modelFormat: { name: 'onnx' }, runtime: 'kserve-tritonserver', protocolVersion: 'v2', storageUri: o.storageUri },
          },
        },
        status: {
          url: `http://${o.name}-${o.namespace}.example.com`,
          address: { url: `http://${o.name}-predictor.${o.namespace}.svc.cluster.local` },
          observedGeneration: 1,
          conditions: conditions('True', now),
          components: { predictor: { url: `http://${o.name}-predictor-${o.namespace}.example.com` } },
          modelStatus: { states: { activeModelState: 'Loaded', targetModelState: 'Loaded' }, transitionStatus: 'UpToDate' },
        },
      });
    },
    get: (ns, name) => objects.get(key(ns, name)),
    async close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
  return api;
}

/** A kubeconfig file (YAML as kubectl writes it) pointing at a local API. */
export function kubeconfigYaml(url: string, caData: string, options: { token?: string; namespace?: string; name?: string } = {}): string {
  const name = options.name ?? 'local';
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    `- name: ${name}`,
    '  user:',
    `    token: ${options.token ?? 'local-token'}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    `    user: ${name}`,
    `    namespace: ${options.namespace ?? 'kserve'}`,
    `current-context: ${name}`,
    '',
  ].join('\n');
}
