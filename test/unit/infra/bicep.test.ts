// What can be checked of bicep/ without the Bicep compiler (none is reachable from these machines): syntax (the
// tree-sitter Bicep grammar), references between files, parameters, role definition IDs, API versions, and the
// wiring to azure.yaml, the hooks, the workflow and the app's blob layout. `az bicep build` and `az bicep lint` in
// .github/workflows/ci.yml are the real check.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import yaml from 'js-yaml';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { BICEP_DIR, BicepFile, bicepFiles, objectProperties, parseBicep, stringValue, variableObject } from '../../helpers/bicepParser';
import { REPO_ROOT } from '../../helpers/paths';

const read = (rel: string) => fs.readFileSync(path.join(REPO_ROOT, rel), 'utf8');

// Built-in role IDs as documented at learn.microsoft.com/azure/role-based-access-control/built-in-roles (they are the
// same in every tenant). Keyed like `roleIds` in bicep/modules/roles.bicep.
const DOCUMENTED_ROLES: Record<string, { name: string; id: string }> = {
  storageBlobDataOwner: { name: 'Storage Blob Data Owner', id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' },
  storageBlobDataContributor: { name: 'Storage Blob Data Contributor', id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe' },
  storageBlobDataReader: { name: 'Storage Blob Data Reader', id: '2a2b9908-6ea1-4ae2-8e65-a410df84e7d1' },
  storageQueueDataContributor: { name: 'Storage Queue Data Contributor', id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88' },
  storageTableDataContributor: { name: 'Storage Table Data Contributor', id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' },
  monitoringMetricsPublisher: { name: 'Monitoring Metrics Publisher', id: '3913510d-42f4-4e42-8a64-420c390055eb' },
  keyVaultSecretsUser: { name: 'Key Vault Secrets User', id: '4633458b-17de-408a-b874-0445c86b69e6' },
  keyVaultSecretsOfficer: { name: 'Key Vault Secrets Officer', id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7' },
  acrPull: { name: 'AcrPull', id: '7f951dda-4ed3-4680-a7ca-43fe172d538d' },
  networkContributor: { name: 'Network Contributor', id: '4d97b98b-1d4f-4787-a291-c67834d212e7' },
  aksRbacClusterAdmin: { name: 'Azure Kubernetes Service RBAC Cluster Admin', id: 'b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b' },
};

// Values azd puts in a hook's environment by itself (everything else must be an output of main.bicep).
const AZD_BUILTIN_ENV = new Set(['AZURE_ENV_NAME', 'AZURE_LOCATION', 'AZURE_SUBSCRIPTION_ID', 'AZURE_PRINCIPAL_ID']);

let files: Map<string, BicepFile>;
const rel = (file: string) => path.relative(BICEP_DIR, file);
const main = () => files.get('main.bicep')!;

beforeAll(async () => {
  files = new Map();
  for (const f of bicepFiles()) files.set(rel(f), await parseBicep(f));
});

/** The string default of a parameter of main.bicep. */
function paramDefault(name: string): string {
  const p = main().params.find((x) => x.name === name)!;
  return stringValue(p.node.namedChild(p.node.namedChildCount - 1))!;
}

const ipToInt = (ip: string) => ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
const intToIp = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
/** Bicep's cidrSubnet(network, newCidr, index) and cidrHost(network, index) (index 0 = first usable address). */
function cidrSubnet(network: string, newCidr: number, index: number): string {
  const base = ipToInt(network.split('/')[0]);
  return `${intToIp(base + index * 2 ** (32 - newCidr))}/${newCidr}`;
}
const cidrHost = (network: string, index: number) => intToIp(ipToInt(network.split('/')[0]) + 1 + index);

/** `| `Microsoft.X/y` | 2024-01-01 | ... |` rows of the version table in docs/deploy.md. */
function documentedVersions(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const m of read('docs/deploy.md').matchAll(/^\|\s*`([^`]+)`\s*\|\s*`?([0-9][0-9a-z.-]*)`?\s*\|/gm)) rows.set(m[1], m[2]);
  return rows;
}

describe('bicep/ syntax and structure', () => {
  it('has a main template and modules, all of which parse without a syntax error', () => {
    expect([...files.keys()]).toEqual(expect.arrayContaining(['main.bicep', 'modules/functionApp.bicep', 'modules/aks.bicep']));
    for (const f of files.values()) expect({ file: rel(f.file), errors: f.syntaxErrors }).toEqual({ file: rel(f.file), errors: [] });
  });

  it('the syntax check is real: a broken template is reported', async () => {
    const broken = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bicep-')), 'broken.bicep');
    fs.writeFileSync(broken, "param a string =\nresource x 'A/b@2020-01-01' = {\n  name: a\n");
    expect((await parseBicep(broken)).syntaxErrors.length).toBeGreaterThan(0);
  });

  it('every local module and import exists, and every module file is used', () => {
    const used = new Set<string>();
    for (const f of files.values()) {
      const targets = [...f.modules.map((m) => m.path).filter((p) => !p.startsWith('br')), ...f.imports.map((i) => i.path)];
      for (const target of targets) {
        const resolved = path.resolve(path.dirname(f.file), target);
        expect({ from: rel(f.file), target, exists: fs.existsSync(resolved) }).toEqual({ from: rel(f.file), target, exists: true });
        used.add(rel(resolved));
      }
    }
    const modules = [...files.keys()].filter((k) => k !== 'main.bicep');
    expect(modules.filter((m) => !used.has(m))).toEqual([]);
  });

  it('every identifier read is declared and every declared parameter is read', () => {
    for (const f of files.values()) {
      const undeclared = [...f.references].filter((r) => !f.declared.has(r));
      const unusedParams = f.params.map((p) => p.name).filter((p) => !f.references.has(p));
      expect({ file: rel(f.file), undeclared, unusedParams }).toEqual({ file: rel(f.file), undeclared: [], unusedParams: [] });
    }
  });

  it('every module call passes only declared parameters and every required one', () => {
    for (const f of files.values()) {
      for (const m of f.modules.filter((x) => !x.path.startsWith('br'))) {
        const target = files.get(rel(path.resolve(path.dirname(f.file), m.path)))!;
        const declared = target.params.map((p) => p.name);
        const required = target.params.filter((p) => !p.hasDefault).map((p) => p.name);
        expect({
          module: m.path,
          unknown: m.params.filter((p) => !declared.includes(p)),
          missing: required.filter((p) => !m.params.includes(p)),
        }).toEqual({
          module: m.path,
          unknown: [],
          missing: [],
        });
      }
    }
  });

  it('every module output read (`mod.outputs.x`) is declared by that module', () => {
    // Outputs of the registry modules, as Azure-Samples/functions-quickstart-typescript-azd reads them at these versions.
    const registryOutputs = ['name', 'resourceId', 'connectionString', 'clientId', 'principalId'];
    for (const f of files.values()) {
      for (const m of f.modules) {
        const outputs = m.path.startsWith('br/')
          ? registryOutputs
          : files.get(rel(path.resolve(path.dirname(f.file), m.path)))!.outputs.map((o) => o.name);
        const read = [...f.source.matchAll(new RegExp(`\\b${m.name}\\.outputs\\.(\\w+)`, 'g'))].map((x) => x[1]);
        expect({ module: m.path, unknown: read.filter((o) => !outputs.includes(o)) }).toEqual({ module: m.path, unknown: [] });
      }
    }
  });

  it('main.bicepparam sets only declared parameters, and every required one', () => {
    const text = fs.readFileSync(path.join(BICEP_DIR, 'main.bicepparam'), 'utf8');
    expect(text).toMatch(/^using 'main\.bicep'$/m);
    const set = [...text.matchAll(/^param\s+(\w+)\s*=/gm)].map((m) => m[1]);
    const declared = main().params.map((p) => p.name);
    expect(set.filter((p) => !declared.includes(p))).toEqual([]);
    expect(
      main()
        .params.filter((p) => !p.hasDefault && !set.includes(p.name))
        .map((p) => p.name),
    ).toEqual([]);
  });
});

describe('role assignments', () => {
  it('role definition IDs are the documented built-in ones', () => {
    const roles = variableObject(files.get('modules/roles.bicep')!, 'roleIds');
    const ids = Object.fromEntries([...roles].map(([k, v]) => [k, stringValue(v)]));
    for (const [key, id] of Object.entries(ids)) {
      expect({ key, id }).toEqual({ key, id: DOCUMENTED_ROLES[key]?.id ?? 'an undocumented role' });
    }
  });

  it('every assignment names its role through roleIds, and every role in roleIds is assigned somewhere', () => {
    const assigned = new Set<string>();
    for (const f of files.values()) {
      // No bare GUID anywhere but roles.bicep: a role ID must come from the checked table.
      if (!f.file.endsWith('roles.bicep'))
        expect({
          file: rel(f.file),
          guids: f.source.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi) ?? [],
        }).toEqual({ file: rel(f.file), guids: [] });
      for (const r of f.resources.filter((x) => x.type.startsWith('Microsoft.Authorization/roleAssignments@'))) {
        const body = objectProperties(objectProperties(r.node.descendantsOfType('object')[0]).get('properties'));
        const definition = body.get('roleDefinitionId')?.text ?? '';
        const m = /^subscriptionResourceId\('Microsoft\.Authorization\/roleDefinitions', (roleIds\.(\w+)|(\w+))\)$/.exec(definition);
        expect({ file: rel(f.file), assignment: r.name, definition: m ? 'roleIds' : definition }).toEqual({
          file: rel(f.file),
          assignment: r.name,
          definition: 'roleIds',
        });
        if (m?.[2]) assigned.add(m[2]);
        if (m?.[3]) {
          // `[for roleId in someRoles: ...]`: the loop must run over a variable built from roleIds only.
          const loop = r.node.descendantsOfType('for_statement')[0];
          expect(loop?.namedChild(0)?.text).toBe(m[3]);
          const list = f.variables.find((v) => v.name === loop!.namedChild(1)!.text)!.node.namedChild(1)!;
          expect(list.namedChildren.every((c) => /^roleIds\.\w+$/.test(c!.text))).toBe(true);
          for (const c of list.namedChildren) assigned.add(c!.text.replace('roleIds.', ''));
        }
      }
    }
    expect([...assigned].sort()).toEqual(Object.keys(DOCUMENTED_ROLES).sort());
  });

  it('the Function App identity gets Blob, Queue and Table data roles on storage and Metrics Publisher', () => {
    const rbac = files.get('modules/rbac.bicep')!;
    const appRoles = rbac.variables.find((v) => v.name === 'appStorageRoles')!.node.text;
    expect(appRoles).toContain('roleIds.storageBlobDataOwner');
    expect(appRoles).toContain('roleIds.storageQueueDataContributor');
    expect(appRoles).toContain('roleIds.storageTableDataContributor');
    expect(rbac.source).toMatch(
      /principalId: appPrincipalId[\s\S]*monitoringMetricsPublisher|monitoringMetricsPublisher[\s\S]*principalId: appPrincipalId/,
    );
  });
});

describe('API versions and registry modules', () => {
  const resourceTypes = () =>
    [...files.values()].flatMap((f) => f.resources.filter((r) => r.type.includes('@')).map((r) => ({ file: rel(f.file), type: r.type })));

  it('no resource uses a preview API version, and each type uses one version everywhere', () => {
    const byType = new Map<string, Set<string>>();
    for (const { type } of resourceTypes()) {
      const [name, version] = type.split('@');
      expect({ type, preview: /preview/i.test(version) }).toEqual({ type, preview: false });
      byType.set(name, (byType.get(name) ?? new Set()).add(version));
    }
    for (const [name, versions] of byType) expect({ name, versions: [...versions] }).toEqual({ name, versions: [...versions].slice(0, 1) });
  });

  it('docs/deploy.md lists every resource API version in use (and nothing else)', () => {
    const documented = documentedVersions();
    const used = new Map(resourceTypes().map(({ type }) => type.split('@') as [string, string]));
    const avm = new Map(
      [...files.values()].flatMap((f) =>
        f.modules
          .filter((m) => m.path.startsWith('br/'))
          .map((m) => [m.path.replace(/:[^:]+$/, ''), m.path.replace(/^.*:/, '')] as [string, string]),
      ),
    );
    expect(Object.fromEntries(documented)).toEqual(Object.fromEntries([...used, ...avm]));
  });

  it('registry modules are Azure Verified Modules pinned to an exact version', () => {
    const registry = [...files.values()].flatMap((f) =>
      f.modules.filter((m) => !m.path.startsWith('modules/') && !m.path.startsWith('./')),
    );
    expect(registry.length).toBeGreaterThan(0);
    for (const m of registry) expect(m.path).toMatch(/^br\/public:avm\/res\/[a-z-]+\/[a-z-]+:\d+\.\d+\.\d+$/);
  });
});

describe('wiring to the app, azd, the hooks and CI', () => {
  it('creates exactly the blob containers of shared/platform/blobLayout.ts, plus the deployment package container', () => {
    const containers = main()
      .variables.find((v) => v.name === 'dataContainers')!
      .node.namedChild(1)!;
    expect(containers.namedChildren.map((c) => stringValue(c))).toEqual(Object.values(CONTAINERS));
  });

  it('runs the Function App on Flex Consumption with the Node major version the project pins', () => {
    const pkg = JSON.parse(read('package.json')) as { devDependencies: Record<string, string> };
    const fnCall = main().modules.find((m) => m.path === 'modules/functionApp.bicep')!;
    const params = objectProperties(objectProperties(fnCall.node.descendantsOfType('object')[0]).get('params'));
    expect(stringValue(params.get('nodeVersion'))).toBe(pkg.devDependencies.node.split('.')[0]);
    const fnApp = files.get('modules/functionApp.bicep')!.source;
    expect(fnApp).toMatch(/name: 'FC1'[\s\S]*tier: 'FlexConsumption'/);
    expect(fnApp).toMatch(
      /functionAppConfig: \{[\s\S]*deployment:[\s\S]*scaleAndConcurrency:[\s\S]*instanceMemoryMB: instanceMemoryMB[\s\S]*maximumInstanceCount: maximumInstanceCount[\s\S]*runtime:/,
    );
  });

  it('storage allows no shared key, no public blob access and nothing below TLS 1.2', () => {
    const storage = files.get('modules/storage.bicep')!.source;
    expect(storage).toMatch(/allowSharedKeyAccess: false/);
    expect(storage).toMatch(/allowBlobPublicAccess: false/);
    expect(storage).toMatch(/minimumTlsVersion: 'TLS1_2'/);
  });

  it('azure.yaml points at bicep/main.bicep and a function service that the Bicep tags for azd', () => {
    const azd = yaml.load(read('azure.yaml')) as {
      infra: { provider: string; path: string; module: string };
      services: Record<string, { host: string; language: string }>;
      hooks: Record<string, { posix: { run: string } }>;
    };
    expect(azd.infra).toEqual({ provider: 'bicep', path: 'bicep', module: 'main' });
    const [serviceName, service] = Object.entries(azd.services)[0];
    expect(service.host).toBe('function');
    const fnCall = main().modules.find((m) => m.path === 'modules/functionApp.bicep')!;
    const params = objectProperties(objectProperties(fnCall.node.descendantsOfType('object')[0]).get('params'));
    expect(stringValue(params.get('azdServiceName'))).toBe(serviceName);
    expect(Object.keys(azd.hooks).sort()).toEqual(['postdeploy', 'postprovision']);
    for (const hook of Object.values(azd.hooks)) {
      const script = path.join(REPO_ROOT, hook.posix.run);
      expect(fs.statSync(script).mode & 0o111).not.toBe(0);
    }
  });

  it('every azd value a hook reads is an output of main.bicep', () => {
    const outputs = new Set(main().outputs.map((o) => o.name));
    for (const hook of ['bicep/hooks/postdeploy.sh', 'bicep/hooks/postprovision.sh']) {
      const vars = new Set([...read(hook).matchAll(/\$\{?(AZURE_[A-Z_]+)/g)].map((m) => m[1]));
      expect(vars.size).toBeGreaterThan(0);
      expect({ hook, missing: [...vars].filter((v) => !outputs.has(v) && !AZD_BUILTIN_ENV.has(v)) }).toEqual({ hook, missing: [] });
    }
  });

  it('the workflow builds and lints the Bicep, runs npm test with Redis, and deploys with azd on main only', () => {
    const wf = yaml.load(read('.github/workflows/ci.yml')) as {
      on: Record<string, unknown>;
      jobs: Record<
        string,
        { if?: string; needs?: string | string[]; services?: Record<string, { image: string }>; steps: { run?: string; uses?: string }[] }
      >;
    };
    const runs = (job: string) => wf.jobs[job].steps.map((s) => s.run ?? '').join('\n');
    expect(Object.keys(wf.on)).toEqual(expect.arrayContaining(['push']));
    expect(wf.jobs.test.services?.redis.image).toMatch(/^redis:/);
    expect(runs('test')).toMatch(/npm ci/);
    expect(runs('test')).toMatch(/npm test/);
    expect(runs('bicep')).toMatch(/az bicep build --file bicep\/main\.bicep/);
    expect(runs('bicep')).toMatch(/az bicep lint --file bicep\/main\.bicep/);
    expect(runs('bicep')).toMatch(/az bicep build-params --file bicep\/main\.bicepparam/);
    expect(wf.jobs.deploy.if).toMatch(/refs\/heads\/main/);
    expect(wf.jobs.deploy.needs).toEqual(['test', 'bicep']);
    expect(runs('deploy')).toMatch(/azd provision --no-prompt/);
    expect(runs('deploy')).toMatch(/azd deploy --no-prompt/);
  });
});

describe('alignment with aks/', () => {
  const manifests = (file: string) =>
    yaml.loadAll(read(file)) as {
      kind: string;
      metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
      spec?: { servers?: { hosts: string[] }[] };
    }[];

  it('the private DNS records point at the address the internal load balancer Service asks for', () => {
    const network = files.get('modules/network.bicep')!.source;
    // The Bicep's arithmetic, reproduced: AKS node subnet = first /20, ingress = host index 249 of it.
    expect(network).toMatch(/var aksNodesSubnetPrefix = cidrSubnet\(addressPrefix, 20, 0\)/);
    expect(network).toMatch(/var ingressPrivateIp = cidrHost\(aksNodesSubnetPrefix, 249\)/);
    const ip = cidrHost(cidrSubnet(paramDefault('vnetAddressPrefix'), 20, 0), 249);
    const [service] = manifests('aks/ingress/internal-loadbalancer.yaml');
    expect(service.metadata.annotations?.['service.beta.kubernetes.io/azure-load-balancer-internal']).toBe('true');
    expect(service.metadata.annotations?.['service.beta.kubernetes.io/azure-load-balancer-ipv4']).toBe(ip);
  });

  it('the KServe hostnames in the Bicep are the hosts the ingress gateway serves', () => {
    const zone = paramDefault('kserveDnsZoneName');
    const hosts = [paramDefault('kserveProductionHostLabel'), paramDefault('kserveStagingHostLabel')].map((l) => `${l}.${zone}`);
    const gateway = manifests('aks/ingress/gateway.yaml').find((m) => m.kind === 'Gateway')!;
    expect(gateway.spec!.servers!.flatMap((s) => s.hosts).sort()).toEqual(hosts.sort());
  });

  it('the promotion RoleBinding is in the namespace of the InferenceServices and binds a User (the app identity)', () => {
    const rbac = manifests('aks/serving/promotion-rbac.yaml') as unknown as {
      kind: string;
      metadata: { namespace: string };
      subjects?: { kind: string }[];
    }[];
    const binding = rbac.find((m) => m.kind === 'RoleBinding')!;
    expect(binding.metadata.namespace).toBe(paramDefault('kserveNamespace'));
    expect(binding.subjects?.map((x) => x.kind)).toEqual(['User']);
    expect(main().outputs.map((o) => o.name)).toContain('AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID');
  });

  it('the federated credentials name the service accounts the pods run as', () => {
    const models = manifests('aks/serving/serviceaccount.yaml').find((m) => m.kind === 'ServiceAccount')!;
    expect([models.metadata.namespace, models.metadata.name]).toEqual([
      paramDefault('kserveNamespace'),
      paramDefault('kserveServiceAccount'),
    ]);
    const trainer = manifests('aks/training/train-job.yaml').find((m) => m.kind === 'ServiceAccount')!;
    expect([trainer.metadata.namespace, trainer.metadata.name]).toEqual([
      paramDefault('trainerNamespace'),
      paramDefault('trainerServiceAccount'),
    ]);
  });
});
