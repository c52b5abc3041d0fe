// aks/deploy.sh against a stand-in `kubectl` on PATH (no cluster here, and a real kubectl need not be installed):
// the stand-in's `kustomize` prints the kustomization's resources in order, as kustomize does for this tree (no
// patches or generators), and its `apply` records the file it was given. What is checked is the script's own logic:
// every placeholder filled from the environment, and nothing printed or applied when a value is missing, malformed
// or unknown, or when a placeholder is left.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { REPO_ROOT } from '../../helpers/paths';

const AKS = path.join(REPO_ROOT, 'aks');

const FAKE_KUBECTL = `#!/bin/sh
# Stand-in for kubectl: logs argv, prints the prepared kustomize output, keeps a copy of each applied file.
state="$FAKE_KUBECTL_STATE"
printf '%s\\n' "$*" >>"$state/calls.log"
case "$1" in
  kustomize) cat "$state/kustomized.yaml" ;;
  apply)
    while [ $# -gt 0 ]; do [ "$1" = "-f" ] && cp "$2" "$state/applied-$(wc -l <"$state/calls.log" | tr -d ' ').yaml"; shift; done ;;
  *) echo "fake kubectl: unexpected call: $*" >&2; exit 2 ;;
esac
`;

/** The resources of aks/kustomization.yaml and its sub-folders, in order, as one YAML stream. */
function kustomized(dir = AKS): string[] {
  const k = yaml.load(fs.readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
  return k.resources.flatMap((r) => {
    const target = path.join(dir, r);
    return fs.statSync(target).isDirectory() ? kustomized(target) : [fs.readFileSync(target, 'utf8')];
  });
}

const OUTPUTS: Record<string, string> = {
  AZURE_KSERVE_IDENTITY_CLIENT_ID: '6f1c2a4e-0b5d-4c4e-9a51-2f0e8d7c1b11',
  AZURE_TRAINER_IDENTITY_CLIENT_ID: '0d3e9b8a-7c61-4f2a-8e05-5b4c3d2e1f22',
  AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c33',
  AZURE_KSERVE_INGRESS_PRIVATE_IP: '10.20.0.250',
  AZURE_FUNCTIONS_SUBNET_PREFIX: '10.20.16.0/24',
  AZURE_STORAGE_ACCOUNT_NAME: 'stdeploy01',
  AZURE_KSERVE_STORAGE_URI: 'https://stdeploy01.blob.core.windows.net/models/',
  AZURE_CONTAINER_REGISTRY_ENDPOINT: 'crdeploy01.azurecr.io',
};

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  calls: string[];
  applied: string[];
}

/**
 * Runs the script with `values` in its environment. With `azdValues`, a stand-in `azd` prints them for
 * `azd env get-values` and AZURE_ENV_NAME is left unset, as in a shell where the azd environment is not exported.
 */
function run(
  args: string[],
  values: Record<string, string | undefined>,
  stream = kustomized().join('\n---\n'),
  azdValues?: Record<string, string>,
): Run {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'aks-deploy-'));
  fs.mkdirSync(path.join(dir, 'bin'));
  fs.writeFileSync(path.join(dir, 'bin', 'kubectl'), FAKE_KUBECTL, { mode: 0o755 });
  fs.writeFileSync(path.join(dir, 'kustomized.yaml'), stream);
  if (azdValues) {
    const lines = Object.entries(azdValues).map(([k, v]) => `${k}="${v}"`);
    const azd = `#!/bin/sh\n[ "$*" = "env get-values" ] || exit 2\ncat <<'EOF'\n${lines.join('\n')}\nEOF\n`;
    fs.writeFileSync(path.join(dir, 'bin', 'azd'), azd, { mode: 0o755 });
  }
  const env: NodeJS.ProcessEnv = {
    // Only what the script needs, so the values given here are all it sees (there is no azd on this PATH unless the
    // stand-in is written above).
    PATH: `${path.join(dir, 'bin')}:/usr/bin:/bin`,
    FAKE_KUBECTL_STATE: dir,
    ...(azdValues ? {} : { AZURE_ENV_NAME: 'test' }),
  };
  for (const [k, v] of Object.entries(values)) if (v !== undefined) env[k] = v;
  const r = spawnSync('sh', [path.join(AKS, 'deploy.sh'), ...args], { env, encoding: 'utf8', timeout: 30000 });
  const log = path.join(dir, 'calls.log');
  const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
  const applied = fs
    .readdirSync(dir)
    .filter((f) => f.startsWith('applied-'))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f), 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls, applied };
}

type Doc = { kind: string; metadata: { name: string; annotations?: Record<string, string> }; [k: string]: any };
const parse = (text: string) => (yaml.loadAll(text) as Doc[]).filter((d) => d != null);
/** The User the promotion's RoleBinding names, in rendered manifests. */
const principal = (text: string) => parse(text).find((d) => d.kind === 'RoleBinding')?.subjects[0].name;

describe('aks/deploy.sh', () => {
  it('fills every placeholder from the environment, dry-runs on the server, then applies the same manifests', () => {
    const r = run([], OUTPUTS);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.calls.map((c) => c.replace(/-f \S+/, '-f FILE'))).toEqual([
      `kustomize ${AKS}`,
      'apply --dry-run=server -f FILE',
      'apply -f FILE',
    ]);
    expect(r.applied).toHaveLength(2);
    expect(r.applied[1]).toBe(r.applied[0]);
    expect(r.applied[0]).not.toMatch(/\$\{/);

    const docs = parse(r.applied[0]);
    expect(docs.length).toBe(kustomized().flatMap((t) => parse(t)).length);
    const of = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name)!;
    expect(of('ServiceAccount', 'spam-detector-models').metadata.annotations!['azure.workload.identity/client-id']).toBe(
      OUTPUTS.AZURE_KSERVE_IDENTITY_CLIENT_ID,
    );
    expect(of('ServiceAccount', 'spam-detector-trainer').metadata.annotations!['azure.workload.identity/client-id']).toBe(
      OUTPUTS.AZURE_TRAINER_IDENTITY_CLIENT_ID,
    );
    expect(of('RoleBinding', 'function-app-promoter').subjects[0].name).toBe(OUTPUTS.AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID);
    expect(
      of('Service', 'istio-ingressgateway-internal').metadata.annotations!['service.beta.kubernetes.io/azure-load-balancer-ipv4'],
    ).toBe(OUTPUTS.AZURE_KSERVE_INGRESS_PRIVATE_IP);
    expect(of('AuthorizationPolicy', 'spam-detector-callers').spec.rules[0].from[0].source.ipBlocks).toEqual([
      OUTPUTS.AZURE_FUNCTIONS_SUBNET_PREFIX,
    ]);
    expect(of('InferenceService', 'spam-detector').spec.predictor.model.storageUri).toBe(
      `${OUTPUTS.AZURE_KSERVE_STORAGE_URI}spam-detector/1.2.0/triton/`,
    );
    const train = of('CronJob', 'spam-detector-train').spec.jobTemplate.spec.template.spec.containers[0];
    expect(train.image).toBe(`${OUTPUTS.AZURE_CONTAINER_REGISTRY_ENDPOINT}/spam-detector-train:latest`);
    expect(train.env).toContainEqual({ name: 'AzureWebJobsStorage__accountName', value: OUTPUTS.AZURE_STORAGE_ACCOUNT_NAME });
  });

  it('--render prints the filled manifests and applies nothing', () => {
    const r = run(['--render'], OUTPUTS);
    expect(r.status).toBe(0);
    expect(r.calls).toEqual([`kustomize ${AKS}`]);
    expect(r.stdout).not.toMatch(/\$\{/);
    expect(principal(r.stdout)).toBe(OUTPUTS.AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID);
  });

  it.each([
    [
      'missing',
      { AZURE_TRAINER_IDENTITY_CLIENT_ID: undefined },
      /\$\{AZURE_TRAINER_IDENTITY_CLIENT_ID\}: AZURE_TRAINER_IDENTITY_CLIENT_ID is not set/,
    ],
    ['empty', { AZURE_KSERVE_IDENTITY_CLIENT_ID: '' }, /\$\{AZURE_KSERVE_IDENTITY_CLIENT_ID\}: AZURE_KSERVE_IDENTITY_CLIENT_ID is not set/],
    [
      'the all-zero placeholder ID',
      { AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID: '00000000-0000-0000-0000-000000000000' },
      /\$\{AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID\}: '0{8}-0{4}-0{4}-0{4}-0{12}' is not a valid value/,
    ],
    [
      'not an address',
      { AZURE_KSERVE_INGRESS_PRIVATE_IP: '10.20.0.256' },
      /AZURE_KSERVE_INGRESS_PRIVATE_IP\}: '10\.20\.0\.256' is not a valid value/,
    ],
    [
      'an address without a prefix length',
      { AZURE_FUNCTIONS_SUBNET_PREFIX: '10.20.16.0' },
      /AZURE_FUNCTIONS_SUBNET_PREFIX\}: '10\.20\.16\.0' is not/,
    ],
    [
      'two lines',
      { AZURE_KSERVE_INGRESS_PRIVATE_IP: '10.20.0.250\n10.20.0.251' },
      /AZURE_KSERVE_INGRESS_PRIVATE_IP\}: '10\.20\.0\.250\n10\.20\.0\.251' is not a valid value/,
    ],
    ['a sed metacharacter', { AZURE_STORAGE_ACCOUNT_NAME: 'st|x&y' }, /AZURE_STORAGE_ACCOUNT_NAME\}: 'st\|x&y' is not a valid value/],
  ])('refuses a value that is %s, and applies nothing', (_what, override, message) => {
    const r = run([], { ...OUTPUTS, ...override });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/refusing to apply aks\//);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(r.calls).toEqual([`kustomize ${AKS}`]);
    expect(r.applied).toEqual([]);
  });

  it('lists every problem at once', () => {
    const r = run(['--render'], { ...OUTPUTS, AZURE_KSERVE_IDENTITY_CLIENT_ID: undefined, AZURE_FUNCTIONS_SUBNET_PREFIX: 'x' });
    expect(r.status).toBe(1);
    expect(r.stderr.match(/^ {2}\$\{/gm)).toHaveLength(2);
  });

  it('refuses a placeholder it does not know, and an all-zero ID left in a manifest', () => {
    const extra = 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  namespace: kserve\ndata:\n  a: "${AZURE_SOMETHING_NEW}"\n';
    const unknown = run([], OUTPUTS, [...kustomized(), extra].join('\n---\n'));
    expect(unknown.status).toBe(1);
    expect(unknown.stderr).toMatch(/\$\{AZURE_SOMETHING_NEW\}: not a placeholder aks\/deploy\.sh knows/);
    expect(unknown.applied).toEqual([]);

    const stale = extra.replace('${AZURE_SOMETHING_NEW}', '00000000-0000-0000-0000-000000000000');
    const zeros = run([], OUTPUTS, [...kustomized(), stale].join('\n---\n'));
    expect(zeros.status).toBe(1);
    expect(zeros.stderr).toMatch(/placeholders left:\n\d+: {2}a: "0{8}-0{4}-0{4}-0{4}-0{12}"/);
    expect(zeros.stdout).toBe('');
    expect(zeros.applied).toEqual([]);
  });

  it('takes the values from azd when they are not exported', () => {
    const r = run(['--render'], {}, undefined, OUTPUTS);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(principal(r.stdout)).toBe(OUTPUTS.AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID);
    // Without azd and without the values, every placeholder is reported.
    const none = run(['--render'], {});
    expect(none.status).toBe(1);
    expect(none.stderr.match(/is not set/g)).toHaveLength(Object.keys(OUTPUTS).length);
  });
});
