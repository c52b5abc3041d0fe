// A local HTTP server implementing the few Kubernetes API endpoints the app uses, since no cluster runs here:
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
// A tiny "controller" plays KServe's part: after a spec change it sets Ready=Unknown for the new generation and,
// `readyAfterMs` later, Ready=True (or Ready=False with a failure reason for a storageUri the test marks broken).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** A self-signed certificate for 127.0.0.1 (API servers always speak TLS; the client verifies it with caData). */
function selfSignedCert(): { key: string; cert: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-kube-tls-'));
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
        '1',
        '-subj',
        '/CN=fake-kube-apiserver',
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
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface FakeIsvcOptions {
  name: string;
  namespace: string;
  storageUri: string;
  annotations?: Record<string, string>;
  minReplicas?: number;
  maxReplicas?: number;
}

export interface FakeKubeApi {
  readonly url: string;
  /** Base64 PEM of the server certificate, as kubeconfig `certificate-authority-data` holds it. */
  readonly caData: string;
  /** Requests seen, for assertions on method, path and content type. */
  readonly requests: Array<{ method: string; path: string; contentType?: string; authorization?: string }>;
  addInferenceService(o: FakeIsvcOptions): void;
  get(namespace: string, name: string): Record<string, any> | undefined;
  /** storageUris whose rollout the fake controller fails (Ready=False, like a model Triton cannot load). */
  readonly brokenStorageUris: Set<string>;
  /** Delay between a spec change and Ready=True. */
  readyAfterMs: number;
  /** Called before a PATCH is applied: lets a test play a concurrent writer (return true when it wrote). */
  onPatch?: (obj: Record<string, any>) => boolean;
  /** When set, every request must carry `Authorization: Bearer <token>` (401 otherwise). */
  requiredToken?: string;
  close(): Promise<void>;
}

type Obj = Record<string, any>;

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

export async function startFakeKubeApi(): Promise<FakeKubeApi> {
  const objects = new Map<string, Obj>();
  const timers = new Set<NodeJS.Timeout>();
  let resourceVersion = 1000;
  const key = (ns: string, name: string) => `${ns}/${name}`;

  const reconcile = (obj: Obj) => {
    const generation = obj.metadata.generation as number;
    const uri = obj.spec.predictor.model.storageUri as string;
    const now = new Date().toISOString();
    obj.status = {
      ...obj.status,
      observedGeneration: generation,
      conditions: conditions('Unknown', now, 'PredictorNotReady', 'Deployment does not have minimum availability.'),
    };
    const t = setTimeout(() => {
      timers.delete(t);
      if (obj.metadata.generation !== generation) return;
      const done = new Date().toISOString();
      obj.status.conditions = fake.brokenStorageUris.has(uri)
        ? conditions('False', done, 'ModelLoadFailed', `failed to load model from ${uri}: storage initializer exited with code 1`)
        : conditions('True', done);
      obj.metadata.resourceVersion = String(++resourceVersion);
    }, fake.readyAfterMs);
    timers.add(t);
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
      fake.requests.push({
        method: req.method ?? '',
        path,
        contentType: req.headers['content-type'],
        authorization: req.headers.authorization,
      });
      if (fake.requiredToken && req.headers.authorization !== `Bearer ${fake.requiredToken}`) {
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
      let patch: Obj;
      try {
        patch = JSON.parse(body);
      } catch (err) {
        return send(400, status(400, 'BadRequest', `error decoding patch: ${(err as Error).message}`));
      }
      if (fake.onPatch?.(obj)) obj.metadata.resourceVersion = String(++resourceVersion);
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
      const next = mergePatch(obj, patch) as Obj;
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
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  const fake: FakeKubeApi = {
    url: `https://127.0.0.1:${port}`,
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
      for (const t of timers) clearTimeout(t);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return fake;
}

/** A kubeconfig file (YAML as kubectl writes it) pointing at the fake API. */
export function fakeKubeconfigYaml(url: string, caData: string, token = 'test-token'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: fake',
    '  cluster:',
    `    server: ${url}`,
    `    certificate-authority-data: ${caData}`,
    'users:',
    '- name: tester',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: fake',
    '  context:',
    '    cluster: fake',
    '    user: tester',
    '    namespace: kserve',
    'current-context: fake',
    '',
  ].join('\n');
}
