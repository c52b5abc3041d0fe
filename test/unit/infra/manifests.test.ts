// The aks/ manifests: every YAML parses; every core Kubernetes kind (and Istio's) validates against the JSON
// schemas of the kubernetes-models packages (generated from the Kubernetes OpenAPI and Istio's CRDs); the
// InferenceServices hold the invariants of docs/aks.md; only the Function App's subnet may call them; every
// placeholder is a Bicep output that aks/deploy.sh fills and checks; kustomizations name files that exist. The
// checks run on the manifests as aks/deploy.sh renders them, with sample values for the placeholders. This is not
// `kubectl apply --dry-run=server` (no cluster here; docs/aks.md says how to run that): unknown fields, CRDs
// missing from the cluster and admission webhooks are only caught there.
import fs from 'node:fs';
import path from 'node:path';
import yaml from 'js-yaml';
import * as ort from 'onnxruntime-node';
import { tritonRepositoryPrefix } from '../../../shared/platform/blobLayout';
import { getConfig } from '../../../shared/platform/config';
import { COMMITTED_MODEL_VERSION, localModelsRoot, MODEL_FILES, MODEL_NAME } from '../../../shared/model/modelArtifacts';
import { REPO_ROOT } from '../../helpers/paths';

const AKS = path.join(REPO_ROOT, 'aks');
const NODE_MODULES = path.join(REPO_ROOT, 'node_modules');

function yamlFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? yamlFiles(path.join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [path.join(dir, e.name)] : []));
}

type Doc = {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  [k: string]: any;
};
// Values of the shape the Bicep outputs have, for the ${NAME} placeholders that aks/deploy.sh fills.
const SAMPLE_OUTPUTS: Record<string, string> = {
  AZURE_KSERVE_IDENTITY_CLIENT_ID: '6f1c2a4e-0b5d-4c4e-9a51-2f0e8d7c1b11',
  AZURE_TRAINER_IDENTITY_CLIENT_ID: '0d3e9b8a-7c61-4f2a-8e05-5b4c3d2e1f22',
  AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c33',
  AZURE_KSERVE_INGRESS_PRIVATE_IP: '10.10.0.250',
  AZURE_FUNCTIONS_SUBNET_PREFIX: '10.10.16.0/24',
  AZURE_STORAGE_ACCOUNT_NAME: 'stsample01',
  AZURE_KSERVE_STORAGE_URI: 'https://stsample01.blob.core.windows.net/models/',
  AZURE_CONTAINER_REGISTRY_ENDPOINT: 'crsample01.azurecr.io',
};
const PLACEHOLDER = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g;
const render = (text: string) => text.replace(PLACEHOLDER, (whole, name: string) => SAMPLE_OUTPUTS[name] ?? whole);

const files = yamlFiles(AKS);
const docs: Array<{ file: string; doc: Doc }> = files.flatMap((file) =>
  (yaml.loadAll(render(fs.readFileSync(file, 'utf8'))) as Doc[])
    .filter((d) => d != null)
    .map((doc) => ({ file: path.relative(AKS, file), doc })),
);
const k8sObjects = docs.filter(({ doc }) => doc.apiVersion && doc.kind && doc.kind !== 'Kustomization');

/** The kubernetes-models class for an apiVersion/kind (ES modules, loaded by path since they export `import` only). */
function modelClass(apiVersion: string, kind: string): (new (data: unknown) => { validate(): void }) | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const candidates = [
    group === ''
      ? path.join(NODE_MODULES, 'kubernetes-models', version, 'index.js')
      : path.join(NODE_MODULES, 'kubernetes-models', group, version, 'index.js'),
    path.join(NODE_MODULES, '@kubernetes-models', 'istio', group, version, 'index.js'),
  ];
  const file = candidates.find((f) => fs.existsSync(f));
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the schema module is found at run time from a manifest's apiVersion
  return file ? require(file)[kind] : undefined;
}

// The replica bounds of each environment (docs/aks.md) and the namespaces aks/namespaces.yaml declares.
const SEED = {
  'spam-detector-staging': { min: 1, max: 3, env: 'staging' },
  'spam-detector': { min: 2, max: 10, env: 'production' },
} as const;
const SEED_NAMESPACES = ['kubeflow', 'mlflow', 'ray', 'kserve', 'serving', 'monitoring', 'istio-system'];

test('every YAML file under aks/ parses, and there is something to check', () => {
  expect(files.length).toBeGreaterThanOrEqual(10);
  expect(k8sObjects.length).toBeGreaterThanOrEqual(15);
  for (const { file, doc } of k8sObjects) {
    expect({ file, name: doc.metadata?.name }).toEqual({ file, name: expect.stringMatching(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/) });
  }
});

test('core and Istio kinds validate against their schemas', () => {
  const validated: string[] = [];
  const errors: string[] = [];
  for (const { file, doc } of k8sObjects) {
    const Model = modelClass(doc.apiVersion!, doc.kind!);
    if (!Model) continue;
    try {
      new Model(doc).validate();
    } catch (err) {
      errors.push(`${file} ${doc.kind}/${doc.metadata?.name}: ${(err as Error).message}`);
    }
    validated.push(`${doc.kind}`);
  }
  expect(errors).toEqual([]);
  // Only the KServe CRD has no schema package; everything else must have been validated.
  const unvalidated = k8sObjects.filter(({ doc }) => !modelClass(doc.apiVersion!, doc.kind!)).map(({ doc }) => doc.kind);
  expect(new Set(unvalidated)).toEqual(new Set(['InferenceService']));
  expect(new Set(validated)).toEqual(
    new Set([
      'Namespace',
      'ServiceAccount',
      'Service',
      'Gateway',
      'VirtualService',
      'AuthorizationPolicy',
      'PersistentVolumeClaim',
      'Deployment',
      'CronJob',
      'Role',
      'RoleBinding',
    ]),
  );
});

test('the schema check does catch a broken manifest', () => {
  const Deployment = modelClass('apps/v1', 'Deployment')!;
  const bad = structuredClone(k8sObjects.find(({ doc }) => doc.kind === 'Deployment')!.doc);
  bad.spec.template.spec.containers[0].ports[0].containerPort = 'five thousand';
  expect(() => new Deployment(bad).validate()).toThrow(/containerPort must be integer/);
});

test('the platform namespaces are declared, and every object is in one of them', () => {
  const namespaces = k8sObjects.filter(({ doc }) => doc.kind === 'Namespace').map(({ doc }) => doc.metadata!.name);
  expect(namespaces.sort()).toEqual([...SEED_NAMESPACES].sort());
  for (const { file, doc } of k8sObjects.filter(({ doc }) => doc.kind !== 'Namespace')) {
    expect({ file, inSeedNamespace: SEED_NAMESPACES.includes(doc.metadata?.namespace ?? '') }).toEqual({ file, inSeedNamespace: true });
  }
});

describe('InferenceServices hold the invariants of docs/aks.md', () => {
  const isvcs = k8sObjects.filter(({ doc }) => doc.kind === 'InferenceService').map(({ doc }) => doc);

  test('exactly the two environments, with the names the app is configured with', () => {
    expect(isvcs.map((d) => d.metadata!.name).sort()).toEqual(Object.keys(SEED).sort());
    const config = getConfig();
    expect(isvcs.every((d) => d.metadata!.namespace === config.kserveNamespace)).toBe(true);
    expect(Object.keys(SEED)).toEqual(expect.arrayContaining([config.kserveStagingName, config.kserveProductionName]));
  });

  test.each(Object.entries(SEED))('%s', (name, seed) => {
    const d = isvcs.find((i) => i.metadata!.name === name)!;
    expect(d.apiVersion).toBe('serving.kserve.io/v1beta1');
    // KServe: Standard mode + HPA autoscaler class; the old metrics annotations stopped working in v0.15.
    expect(d.metadata!.annotations).toMatchObject({
      'serving.kserve.io/deploymentMode': 'Standard',
      'serving.kserve.io/autoscalerClass': 'hpa',
    });
    expect(Object.keys(d.metadata!.annotations!)).not.toEqual(expect.arrayContaining(['serving.kserve.io/metrics']));
    const p = d.spec.predictor;
    expect(p).toMatchObject({ minReplicas: seed.min, maxReplicas: seed.max, scaleMetric: 'cpu', scaleTarget: 80 });
    expect(p.canaryTrafficPercent).toBeUndefined(); // does nothing in Standard mode (kserve#4074)
    expect(p.model).toMatchObject({ modelFormat: { name: 'onnx' }, runtime: 'kserve-tritonserver', protocolVersion: 'v2' });
    // The Triton repository of one version in models/, trailing slash included.
    const uri = new URL(p.model.storageUri);
    expect(uri.protocol).toBe('https:');
    expect(uri.hostname).toMatch(/^[A-Za-z0-9_]+\.blob\.core\.windows\.net$/);
    const [container, ...rest] = uri.pathname.slice(1).split('/');
    expect(container).toBe('models');
    expect(rest.join('/')).toBe(tritonRepositoryPrefix('spam-detector', COMMITTED_MODEL_VERSION));
    // HPA on CPU needs CPU requests; limits keep a noisy pod from starving its node.
    expect(p.model.resources.requests).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    expect(p.model.resources.limits).toEqual({ cpu: expect.any(String), memory: expect.any(String) });
    // Blob access by workload identity.
    expect(p.labels['azure.workload.identity/use']).toBe('true');
    const sa = k8sObjects.find(({ doc }) => doc.kind === 'ServiceAccount' && doc.metadata!.name === p.serviceAccountName)?.doc;
    expect(sa?.metadata!.namespace).toBe(d.metadata!.namespace);
    expect(sa?.metadata!.annotations!['azure.workload.identity/client-id']).toBe(SAMPLE_OUTPUTS.AZURE_KSERVE_IDENTITY_CLIENT_ID);
  });
});

test('each environment has an internal hostname routed to its predictor Service on the internal gateway', () => {
  const vs = k8sObjects.filter(({ doc }) => doc.kind === 'VirtualService').map(({ doc }) => doc);
  const gateway = k8sObjects.find(({ doc }) => doc.kind === 'Gateway')!.doc;
  const lb = k8sObjects.find(({ doc }) => doc.kind === 'Service' && doc.metadata!.namespace === 'istio-system')!.doc;
  expect(lb.spec.type).toBe('LoadBalancer');
  expect(lb.metadata!.annotations!['service.beta.kubernetes.io/azure-load-balancer-internal']).toBe('true');
  expect(gateway.spec.selector).toEqual(lb.spec.selector);
  for (const [name] of Object.entries(SEED)) {
    const route = vs.find((v) => v.metadata!.name === name)!;
    expect(route.spec.hosts).toEqual([`${name}.ml.internal`]);
    expect(gateway.spec.servers[0].hosts).toContain(`${name}.ml.internal`);
    expect(route.spec.gateways).toEqual([`${gateway.metadata!.namespace}/${gateway.metadata!.name}`]);
    expect(route.spec.http[0].route[0].destination).toEqual({ host: `${name}-predictor.kserve.svc.cluster.local`, port: { number: 80 } });
  }
});

test('the promotion may get and patch InferenceServices in their namespace, and nothing else', () => {
  const role = k8sObjects.find(({ doc }) => doc.kind === 'Role')!.doc;
  const binding = k8sObjects.find(({ doc }) => doc.kind === 'RoleBinding')!.doc;
  expect(role.metadata!.namespace).toBe(getConfig().kserveNamespace);
  expect(role.rules).toEqual([
    { apiGroups: ['serving.kserve.io'], resources: ['inferenceservices'], verbs: ['get', 'list', 'watch', 'patch'] },
  ]);
  expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata!.name });
  expect(binding.metadata!.namespace).toBe(role.metadata!.namespace);
});

/** The kustomization files and the resources they name, from aks/ down. */
function kustomized(): Set<string> {
  const reached = new Set<string>();
  const walk = (dir: string) => {
    const k = yaml.load(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
    reached.add(path.join(dir, 'kustomization.yaml'));
    for (const r of k.resources) {
      const target = path.join(dir, r);
      expect(fs.existsSync(target)).toBe(true);
      if (fs.statSync(target).isDirectory()) walk(target);
      else reached.add(target);
    }
  };
  walk(AKS);
  return reached;
}

test('kustomizations reference files and folders that exist, and every manifest is reachable from aks/', () => {
  const reached = kustomized();
  const manifests = files.filter((f) => (yaml.loadAll(fs.readFileSync(f, 'utf8')) as Doc[]).some((d) => d?.apiVersion && d?.kind));
  expect(manifests.filter((f) => !reached.has(f)).map((f) => path.relative(AKS, f))).toEqual([]);
});

test('the training job runs the training CLI from the image built by the Dockerfile, with MLflow and workload identity', () => {
  const cron = k8sObjects.find(({ doc }) => doc.kind === 'CronJob')!.doc;
  const pod = cron.spec.jobTemplate.spec.template;
  const container = pod.spec.containers[0];
  // The compiled training CLI that `npm run train` runs (the image is built already: no rebuild at run time).
  expect(container.args.slice(0, 2)).toEqual(['node', 'dist/tools/cli/train.js']);
  expect(container.args).toContain('--upload');
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8'));
  expect(pkg.scripts.train).toContain('node dist/tools/cli/train.js');
  expect(container.image).toMatch(/spam-detector-train/);
  expect(container.env).toEqual(
    expect.arrayContaining([{ name: 'MLFLOW_TRACKING_URI', value: 'http://mlflow.mlflow.svc.cluster.local:5000' }]),
  );
  expect(pod.metadata.labels['azure.workload.identity/use']).toBe('true');
  expect(fs.readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8')).toMatch(/CMD \["node", "dist\/tools\/cli\/train\.js"\]/);
  const mlflowService = k8sObjects.find(({ doc }) => doc.kind === 'Service' && doc.metadata!.name === 'mlflow')!.doc;
  expect(mlflowService.metadata!.namespace).toBe('mlflow');
  expect(mlflowService.spec.ports[0].port).toBe(5000);
});

describe('only the Function App calls the InferenceServices', () => {
  const find = (kind: string) => k8sObjects.filter(({ doc }) => doc.kind === kind).map(({ doc }) => doc);
  const policy = () => find('AuthorizationPolicy')[0];
  const gateway = () => find('Gateway')[0];

  test('an ALLOW policy on the ingress gateway pods admits the Function App subnet only', () => {
    expect(find('AuthorizationPolicy')).toHaveLength(1);
    const p = policy();
    expect(p.apiVersion).toBe('security.istio.io/v1');
    expect(p.metadata!.namespace).toBe(gateway().metadata!.namespace);
    // ALLOW: whatever no rule matches is denied, so the rules below are the whole list of callers.
    expect(p.spec.action).toBe('ALLOW');
    expect(p.spec.selector.matchLabels).toEqual(gateway().spec.selector);
    expect(p.spec.rules).toHaveLength(1);
    expect(p.spec.rules[0].from).toEqual([{ source: { ipBlocks: [SAMPLE_OUTPUTS.AZURE_FUNCTIONS_SUBNET_PREFIX] } }]);
    // In the file, the address range is the Bicep output the script fills in.
    const raw = fs.readFileSync(path.join(AKS, 'ingress', 'authorization-policy.yaml'), 'utf8');
    expect([...raw.matchAll(PLACEHOLDER)].map((m) => m[1])).toEqual(['AZURE_FUNCTIONS_SUBNET_PREFIX']);
  });

  test('the policy covers every host and path the gateway routes to a model, with and without a port', () => {
    const [operation] = policy().spec.rules[0].to.map((t: { operation: unknown }) => t.operation);
    const hosts: string[] = gateway().spec.servers.flatMap((srv: { hosts: string[] }) => srv.hosts);
    expect([...operation.hosts].sort()).toEqual(hosts.flatMap((h) => [h, `${h}:*`]).sort());
    const prefixes = find('VirtualService').flatMap((v) =>
      v.spec.http.flatMap((h: { match: { uri: { prefix: string } }[] }) => h.match.map((m) => m.uri.prefix)),
    );
    expect(new Set(prefixes)).toEqual(new Set(['/v2/']));
    expect(operation.paths).toEqual(['/v2/*']);
  });

  test('the internal load balancer keeps client addresses, which the policy matches on', () => {
    const lb = find('Service').find((svc) => svc.metadata!.name === 'istio-ingressgateway-internal')!;
    expect(lb.spec.externalTrafficPolicy).toBe('Local');
    expect(lb.spec.selector).toEqual(policy().spec.selector.matchLabels);
  });

  test('the schema check does catch a broken policy', () => {
    const AuthorizationPolicy = modelClass('security.istio.io/v1', 'AuthorizationPolicy')!;
    const bad = structuredClone(policy());
    bad.spec.action = 'PERMIT';
    expect(() => new AuthorizationPolicy(bad).validate()).toThrow(/action must be equal to one of the allowed values/);
  });
});

describe('placeholders are Bicep outputs that aks/deploy.sh fills and checks', () => {
  const raw = () =>
    [...kustomized()]
      .filter((f) => !f.endsWith('kustomization.yaml'))
      .map((f) => ({ file: path.relative(AKS, f), text: fs.readFileSync(f, 'utf8') }));
  const placeholders = () => new Set(raw().flatMap(({ text }) => [...text.matchAll(PLACEHOLDER)].map((m) => m[1])));
  const deployScript = fs.readFileSync(path.join(AKS, 'deploy.sh'), 'utf8');
  /** Names in the case labels of pattern_of(), the values aks/deploy.sh knows how to check. */
  const known = new Set(
    [...deployScript.matchAll(/^\s+((?:AZURE_[A-Z0-9_]+)(?:\s*\|\s*AZURE_[A-Z0-9_]+)*)\)/gm)].flatMap((m) => m[1].split(/\s*\|\s*/)),
  );

  test('every placeholder is an output of bicep/main.bicep, and the script checks exactly those', () => {
    const outputs = new Set(
      [...fs.readFileSync(path.join(REPO_ROOT, 'bicep', 'main.bicep'), 'utf8').matchAll(/^output (\w+) /gm)].map((m) => m[1]),
    );
    expect(placeholders().size).toBeGreaterThanOrEqual(8);
    expect([...placeholders()].filter((p) => !outputs.has(p))).toEqual([]);
    expect([...known].sort()).toEqual([...placeholders()].sort());
    expect(Object.keys(SAMPLE_OUTPUTS).sort()).toEqual([...placeholders()].sort());
  });

  test('no manifest carries a value the user had to fill in by hand', () => {
    for (const { file, text } of raw()) {
      expect({ file, zeros: /0{8}-0{4}-0{4}-0{4}-0{12}/.test(text), legacy: /\b(STORAGE_ACCOUNT|REGISTRY)\./.test(text) }).toEqual({
        file,
        zeros: false,
        legacy: false,
      });
    }
    // The identities and the address range are placeholders, not literals.
    const binding = k8sObjects.find(({ doc }) => doc.kind === 'RoleBinding')!.doc;
    expect(binding.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: SAMPLE_OUTPUTS.AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID },
    ]);
    const trainer = k8sObjects.find(({ doc }) => doc.kind === 'ServiceAccount' && doc.metadata!.name === 'spam-detector-trainer')!.doc;
    expect(trainer.metadata!.annotations!['azure.workload.identity/client-id']).toBe(SAMPLE_OUTPUTS.AZURE_TRAINER_IDENTITY_CLIENT_ID);
  });
});

// ---- The Triton model repository committed with each model version must describe the ONNX graph it holds ----

interface TritonTensor {
  name: string;
  data_type: string;
  dims: number[];
}

/** The fields of a Triton model config (protobuf text format) that KServe's Triton needs to serve this model. */
function parseTritonConfig(text: string): {
  name: string;
  backend?: string;
  platform?: string;
  max_batch_size: number;
  input: TritonTensor[];
  output: TritonTensor[];
} {
  const scalar = (src: string, key: string) => new RegExp(`(?:^|\\s)${key}\\s*:\\s*"?([^"\\s]+)"?`).exec(src)?.[1];
  const tensors = (key: string): TritonTensor[] => {
    const block = new RegExp(`(?:^|\\n)\\s*${key}\\s*\\[([\\s\\S]*?)\\n\\s*\\]`).exec(text)?.[1] ?? '';
    return [...block.matchAll(/\{([^{}]*)\}/g)].map((m) => ({
      name: scalar(m[1], 'name')!,
      data_type: scalar(m[1], 'data_type')!,
      dims: (/dims\s*:\s*\[([^\]]*)\]/.exec(m[1])?.[1] ?? '').split(',').map((d) => Number(d.trim())),
    }));
  };
  const top = text.replace(/\n\s*(input|output|instance_group)\s*\[[\s\S]*?\n\s*\]/g, '');
  return {
    name: scalar(top, 'name')!,
    backend: scalar(top, 'backend'),
    platform: scalar(top, 'platform'),
    max_batch_size: Number(scalar(top, 'max_batch_size') ?? 0),
    input: tensors('input'),
    output: tensors('output'),
  };
}

const ORT_TO_TRITON: Record<string, string> = {
  float32: 'TYPE_FP32',
  float64: 'TYPE_FP64',
  int64: 'TYPE_INT64',
  int32: 'TYPE_INT32',
  string: 'TYPE_STRING',
  bool: 'TYPE_BOOL',
};

const versions = fs.existsSync(path.join(localModelsRoot(), MODEL_NAME)) ? fs.readdirSync(path.join(localModelsRoot(), MODEL_NAME)) : [];

test('a model version is committed (the InferenceServices above point at it)', () => {
  expect(versions).toContain(COMMITTED_MODEL_VERSION);
});

describe.each(versions)('Triton repository of model version %s', (version) => {
  const dir = path.join(localModelsRoot(), MODEL_NAME, version);

  test("config.pbtxt matches the ONNX graph (names, data types, shapes) and KServe's model name", async () => {
    const config = parseTritonConfig(fs.readFileSync(path.join(dir, MODEL_FILES.tritonConfig), 'utf8'));
    // The directory name is the model name in the V2 URL; the gateway calls /v2/models/{KSERVE_MODEL_NAME}/infer.
    expect(config.name).toBe(path.basename(path.dirname(path.join(dir, MODEL_FILES.tritonConfig))));
    expect(config.name).toBe(getConfig().kserveModelName);
    expect(config.backend ?? config.platform).toMatch(/^onnxruntime(_onnx)?$/);
    const session = await ort.InferenceSession.create(path.join(dir, MODEL_FILES.tritonOnnx));
    try {
      expect(config.input.map((t) => t.name)).toEqual([...session.inputNames]);
      expect(config.output.map((t) => t.name)).toEqual([...session.outputNames]);
      for (const [tensors, metadata] of [
        [config.input, session.inputMetadata],
        [config.output, session.outputMetadata],
      ] as const) {
        for (const tensor of tensors) {
          const meta = metadata.find((m) => m.name === tensor.name)!;
          if (!meta.isTensor) throw new Error(`${tensor.name} is not a tensor in the ONNX graph`);
          expect(tensor.data_type).toBe(ORT_TO_TRITON[meta.type]);
          // Symbolic ONNX dimensions (the batch) are -1 in Triton; with max_batch_size > 0 Triton leaves the batch out.
          const onnxDims = meta.shape.map((d) => (typeof d === 'number' && d > 0 ? d : -1));
          expect(tensor.dims).toEqual(config.max_batch_size > 0 ? onnxDims.slice(1) : onnxDims);
        }
      }
    } finally {
      await session.release();
    }
  });

  test('the Triton copy of the graph is the model itself', () => {
    expect(fs.readFileSync(path.join(dir, MODEL_FILES.tritonOnnx)).equals(fs.readFileSync(path.join(dir, MODEL_FILES.onnx)))).toBe(true);
  });
});

test('the config.pbtxt check catches a mismatch', () => {
  const good = fs.readFileSync(path.join(localModelsRoot(), MODEL_NAME, COMMITTED_MODEL_VERSION, MODEL_FILES.tritonConfig), 'utf8');
  const parsed = parseTritonConfig(good);
  expect(parsed.input[0]).toEqual({ name: 'features', data_type: 'TYPE_FP32', dims: [-1, 50] });
  expect(parsed.output[0]).toEqual({ name: 'probabilities', data_type: 'TYPE_FP32', dims: [-1, 2] });
  expect(parseTritonConfig(good.replace('dims: [ -1, 50 ]', 'dims: [ -1, 49 ]')).input[0].dims).toEqual([-1, 49]);
});
