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

/** The expression of an output of main.bicep. */
function outputValue(name: string): string {
  const o = main().outputs.find((x) => x.name === name);
  return o ? o.node.namedChild(o.node.namedChildCount - 1)!.text : `no output ${name}`;
}

const resourcesOfType = (type: string) => [...files.values()].flatMap((f) => f.resources.filter((r) => r.type === type)).length;

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
      f.modules.filter((m) => !fs.existsSync(path.resolve(path.dirname(f.file), m.path))),
    );
    expect(registry.length).toBeGreaterThan(0);
    for (const m of registry) expect(m.path).toMatch(/^br\/public:avm\/res\/[a-z-]+\/[a-z-]+:\d+\.\d+\.\d+$/);
  });
});

describe('network exposure', () => {
  const module = (name: string) => files.get(`modules/${name}.bicep`)!;
  const defaultText = (name: string) => {
    const p = main().params.find((x) => x.name === name)!;
    return p.node.namedChild(p.node.namedChildCount - 1)!.text;
  };
  /** The `params: { ... }` of a module call, by key. */
  const callParams = (file: BicepFile, target: string) =>
    objectProperties(objectProperties(file.modules.find((m) => m.path === target)!.node.descendantsOfType('object')[0]).get('params'));

  it('is isolated by default, with no operator address and a public API server; the parameter file can change that', () => {
    expect(defaultText('networkIsolation')).toBe('true');
    expect(defaultText('operatorIpRanges')).toBe('[]');
    expect(defaultText('aksPrivateCluster')).toBe('false');
    const params = read('bicep/main.bicepparam');
    expect(params).toMatch(/^param networkIsolation = bool\(readEnvironmentVariable\('NETWORK_ISOLATION', 'true'\)\)$/m);
    expect(params).toMatch(/^param operatorIpRanges = .*split\(readEnvironmentVariable\('OPERATOR_IP_RANGES', ''\), ','\)$/m);
    expect(params).toMatch(/^param aksPrivateCluster = bool\(readEnvironmentVariable\('AKS_PRIVATE_CLUSTER', 'false'\)\)$/m);
  });

  it.each([
    ['storage', 'account'],
    ['keyVault', 'vault'],
  ])("%s denies public traffic but the operators' addresses, with no trusted-service bypass, when isolated", (name, resource) => {
    const text = module(name).resources.find((r) => r.name === resource)!.node.text;
    expect(text).toMatch(/publicNetworkAccess: 'Enabled'/);
    expect(text).toMatch(
      /networkAcls: networkIsolation \? \{\s*defaultAction: 'Deny'\s*bypass: 'None'\s*ipRules: firewallIpRules\s*\} : \{\s*defaultAction: 'Allow'/,
    );
    expect(module(name).source).toMatch(/^var firewallIpRules = \[for cidr in operatorIpRanges: \{ value: cidr \}\]$/m);
    const call = callParams(main(), `modules/${name}.bicep`);
    expect(call.get('networkIsolation')?.text).toBe('networkIsolation');
    // Storage takes a single address without a prefix; the conversion is made once for both.
    expect(call.get('operatorIpRanges')?.text).toBe('operatorAddresses');
    expect(main().source).toMatch(/^var operatorAddresses = \[for cidr in operatorIpRanges: replace\(cidr, '\/32', ''\)\]$/m);
    expect(call.get('privateEndpointSubnetId')?.text).toBe('network.outputs.privateEndpointSubnetId');
    expect(call.get('vnetId')?.text).toBe('network.outputs.vnetId');
  });

  it('the Function App and the pods reach Storage (blob, queue, table) and Key Vault through private endpoints when isolated', () => {
    const storage = module('storage');
    expect(storage.variables.find((v) => v.name === 'endpointServices')!.node.namedChild(1)!.text).toBe("['blob', 'queue', 'table']");
    const endpoints = storage.modules.find((m) => m.name === 'endpoints')!;
    expect(endpoints.path).toBe('privateEndpoint.bicep');
    expect(endpoints.node.text).toMatch(/for service in endpointServices: if \(networkIsolation\)/);
    expect(endpoints.node.text).toMatch(/groupId: service/);
    expect(endpoints.node.text).toMatch(/dnsZoneName: 'privatelink\.\$\{service\}\.\$\{environment\(\)\.suffixes\.storage\}'/);
    const vault = module('keyVault').modules.find((m) => m.name === 'endpoint')!;
    expect(vault.node.text).toMatch(/= if \(networkIsolation\)/);
    expect(vault.node.text).toMatch(/groupId: 'vault'[\s\S]*dnsZoneName: 'privatelink\.vaultcore\.azure\.net'/);
    // Each endpoint's zone is linked to the VNet the Function App is integrated into, so its host names resolve there.
    const endpoint = module('privateEndpoint').source;
    expect(endpoint).toMatch(/registrationEnabled: false\s*virtualNetwork: \{\s*id: vnetId/);
    expect(endpoint).toMatch(/privateDnsZoneConfigs: \[\s*\{[\s\S]*privateDnsZoneId: zone\.id/);
    expect(endpoint).toMatch(/groupIds: \[groupId\]/);
  });

  it("the AKS API server answers the Function App's NAT address and the operators only, or is private", () => {
    const aks = module('aks').resources.find((r) => r.name === 'cluster')!.node.text;
    expect(aks).toMatch(
      /apiServerAccessProfile: \{\s*enablePrivateCluster: privateCluster\s*authorizedIPRanges: privateCluster \? null : authorizedIpRanges\s*\}/,
    );
    const call = callParams(main(), 'modules/aks.bicep');
    expect(call.get('privateCluster')?.text).toBe('aksPrivateCluster');
    expect(call.get('authorizedIpRanges')?.text).toBe(
      "networkIsolation ? concat(['${network.outputs.natPublicIp}/32'], operatorIpRanges) : []",
    );
    expect(module('network').source).toMatch(/^output natPublicIp string = natIp\.properties\.ipAddress$/m);
    // The Function App's subnet leaves through that NAT gateway.
    expect(module('network').source).toMatch(/name: 'snet-functions'[\s\S]*?natGateway: \{\s*id: nat\.id/);
    // The app's Kubernetes client is pointed at the private name of a private cluster.
    expect(module('aks').source).toMatch(
      /^output apiServerFqdn string = privateCluster \? cluster\.properties\.privateFQDN : cluster\.properties\.fqdn$/m,
    );
  });

  describe('network security groups', () => {
    const network = () => module('network');
    const nsgs = () => network().resources.filter((r) => r.type.startsWith('Microsoft.Network/networkSecurityGroups@'));
    const subnets = () => {
      const vnet = network().resources.find((r) => r.type.startsWith('Microsoft.Network/virtualNetworks@'))!;
      const list = objectProperties(objectProperties(vnet.node.descendantsOfType('object')[0]).get('properties')).get('subnets')!;
      return list.namedChildren.map((s) => {
        const o = objectProperties(s);
        const props = objectProperties(o.get('properties'));
        return { name: stringValue(o.get('name'))!, props };
      });
    };
    type Rule = { name: string; [k: string]: string };
    const rules = (nsg: string): Rule[] => {
      const body = objectProperties(
        objectProperties(
          nsgs()
            .find((r) => r.name === nsg)!
            .node.descendantsOfType('object')[0],
        ).get('properties'),
      );
      return body.get('securityRules')!.namedChildren.map((r) => {
        const o = objectProperties(r);
        const props = objectProperties(o.get('properties'));
        return { name: stringValue(o.get('name'))!, ...Object.fromEntries([...props].map(([k, v]) => [k, stringValue(v) ?? v.text])) };
      });
    };

    it('every subnet has its own NSG, and every NSG guards a subnet', () => {
      const attached = subnets().map((s) => objectProperties(s.props.get('networkSecurityGroup')).get('id')?.text);
      expect(subnets().map((s) => s.name)).toEqual(['snet-functions', 'snet-private-endpoints', 'snet-aks-nodes']);
      expect(attached).toEqual(['functionsNsg.id', 'privateEndpointsNsg.id', 'aksNodesNsg.id']);
      expect(
        nsgs()
          .map((n) => `${n.name}.id`)
          .sort(),
      ).toEqual([...attached].sort());
      // Private endpoints ignore the subnet's NSG unless the subnet says otherwise.
      const pe = subnets().find((s) => s.name === 'snet-private-endpoints')!;
      expect(stringValue(pe.props.get('privateEndpointNetworkPolicies'))).toBe('NetworkSecurityGroupEnabled');
    });

    it('every rule has what Microsoft.Network/networkSecurityGroups@2024-05-01 requires, with unique priorities', () => {
      for (const nsg of nsgs()) {
        const list = rules(nsg.name);
        expect(list.length).toBeGreaterThan(0);
        for (const r of list) {
          expect({ nsg: nsg.name, rule: r.name, protocol: ['Tcp', 'Udp', 'Icmp', '*'].includes(r.protocol) }).toEqual({
            nsg: nsg.name,
            rule: r.name,
            protocol: true,
          });
          expect(['Allow', 'Deny']).toContain(r.access);
          expect(['Inbound', 'Outbound']).toContain(r.direction);
          expect(Number(r.priority)).toBeGreaterThanOrEqual(100);
          expect(Number(r.priority)).toBeLessThanOrEqual(4096);
          expect(r.sourceAddressPrefix ?? r.sourceAddressPrefixes).toBeDefined();
          expect(r.destinationAddressPrefix ?? r.destinationAddressPrefixes).toBeDefined();
          expect(r.destinationPortRange ?? r.destinationPortRanges).toBeDefined();
        }
        for (const direction of ['Inbound', 'Outbound']) {
          const priorities = list.filter((r) => r.direction === direction).map((r) => r.priority);
          expect(new Set(priorities).size).toBe(priorities.length);
        }
      }
    });

    it('inside the VNet the Function App opens only HTTPS and the Redis port, and nothing else reaches the endpoints', () => {
      const redisPort = /port: (\d+)/.exec(module('redis').source)![1];
      expect(network().source).toMatch(new RegExp(`^var vnetServicePorts = \\['443', '${redisPort}'\\]$`, 'm'));
      const out = rules('functionsNsg');
      expect(
        out.map((r) => [r.direction, r.access, r.destinationAddressPrefix, r.destinationPortRanges ?? r.destinationPortRange]),
      ).toEqual([
        ['Outbound', 'Allow', 'VirtualNetwork', 'vnetServicePorts'],
        ['Outbound', 'Deny', 'VirtualNetwork', '*'],
      ]);
      const pe = rules('privateEndpointsNsg');
      expect(pe[0]).toMatchObject({
        access: 'Allow',
        direction: 'Inbound',
        sourceAddressPrefixes: '[functionsSubnetPrefix, aksNodesSubnetPrefix]',
        destinationPortRanges: 'vnetServicePorts',
      });
      expect(pe[1]).toMatchObject({ access: 'Deny', direction: 'Inbound', sourceAddressPrefix: 'VirtualNetwork' });
      expect(Number(pe[0].priority)).toBeLessThan(Number(pe[1].priority));
    });

    it('the AKS nodes take only HTTPS from the Function App', () => {
      const [allow, deny] = rules('aksNodesNsg');
      expect(allow).toMatchObject({
        access: 'Allow',
        direction: 'Inbound',
        protocol: 'Tcp',
        sourceAddressPrefix: 'functionsSubnetPrefix',
        destinationAddressPrefix: 'aksNodesSubnetPrefix',
        destinationPortRange: '443',
      });
      expect(deny).toMatchObject({ access: 'Deny', sourceAddressPrefix: 'functionsSubnetPrefix', destinationPortRange: '*' });
      expect(Number(allow.priority)).toBeLessThan(Number(deny.priority));
    });
  });
});

describe('properties the declared API versions do not have', () => {
  // Found in the bicep-types-az definitions of these versions: the compiler warns (BCP037) and Azure ignores them.
  const ABSENT: Record<string, string[]> = {
    'Microsoft.ContainerRegistry/registries@2023-07-01': ['anonymousPullEnabled'],
  };

  it('no resource sets one', () => {
    const found: string[] = [];
    for (const f of files.values()) {
      for (const r of f.resources.filter((x) => x.type in ABSENT)) {
        for (const prop of ABSENT[r.type])
          if (new RegExp(`\\b${prop}\\s*:`).test(r.node.text)) found.push(`${rel(f.file)} ${r.name}.${prop}`);
      }
    }
    expect(found).toEqual([]);
    expect(Object.keys(ABSENT).every((t) => resourcesOfType(t) > 0)).toBe(true);
  });
});

describe('keys: callers get a function key, the master key stays with the operators', () => {
  const hooks = ['bicep/hooks/postdeploy.sh', 'bicep/hooks/postprovision.sh', 'bicep/hooks/keyVaultAccess.sh'];

  it("neither the Bicep nor a hook reads the master key or lists the host's keys", () => {
    for (const f of files.values())
      expect({ file: rel(f.file), hit: /masterKey|listKeys\(|host\/default|listsecrets/i.test(f.source) }).toEqual({
        file: rel(f.file),
        hit: false,
      });
    for (const hook of hooks)
      expect({ hook, hit: /masterKey|--key-type\s+masterKey|functionapp keys set/i.test(read(hook)) }).toEqual({ hook, hit: false });
  });

  it("the hooks read only the callers' default function key and the blob extension's system key", () => {
    // A call may continue on the next line (backslash-newline); every call must say which key it reads.
    const queries = hooks.flatMap((h) =>
      [...read(h).matchAll(/az functionapp keys list(?:[^\n]|\\\n)*?--query\s+"?([\w.]+)"?/g)].map((m) => m[1]),
    );
    const calls = hooks.flatMap((h) => [...read(h).matchAll(/az functionapp keys list/g)]);
    expect(queries).toHaveLength(calls.length);
    expect(new Set(queries)).toEqual(new Set(['functionKeys.default', 'systemKeys.blobs_extension']));
    // The stored key is the gateway key the smoke evaluation presents to the function-level predict endpoint.
    expect(main().source).toMatch(
      /PROMOTION_GATEWAY_KEY: '@Microsoft\.KeyVault\(VaultName=\$\{keyVault\.outputs\.name\};SecretName=\$\{gatewayKeySecretName\}\)'/,
    );
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
    for (const hook of ['bicep/hooks/postdeploy.sh', 'bicep/hooks/postprovision.sh', 'bicep/hooks/keyVaultAccess.sh']) {
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
    // The Bicep's arithmetic, reproduced: AKS node subnet = first /20, ingress = host index 249 of it, which is
    // the address the docs give for the default VNet.
    expect(network).toMatch(/var aksNodesSubnetPrefix = cidrSubnet\(addressPrefix, 20, 0\)/);
    expect(network).toMatch(/var ingressPrivateIp = cidrHost\(aksNodesSubnetPrefix, 249\)/);
    const ip = cidrHost(cidrSubnet(paramDefault('vnetAddressPrefix'), 20, 0), 249);
    expect(read('docs/deploy.md')).toContain(`internal load balancer at ${ip}`);
    expect(network).toMatch(/aRecords: \[\s*\{\s*ipv4Address: ingressPrivateIp/);
    // The Service asks for the output that carries that address (aks/deploy.sh fills it in).
    expect(outputValue('AZURE_KSERVE_INGRESS_PRIVATE_IP')).toBe('network.outputs.ingressPrivateIp');
    expect(network).toMatch(/^output ingressPrivateIp string = ingressPrivateIp$/m);
    const [service] = manifests('aks/ingress/internal-loadbalancer.yaml');
    expect(service.metadata.annotations?.['service.beta.kubernetes.io/azure-load-balancer-internal']).toBe('true');
    expect(service.metadata.annotations?.['service.beta.kubernetes.io/azure-load-balancer-ipv4']).toBe(
      '${AZURE_KSERVE_INGRESS_PRIVATE_IP}',
    );
  });

  it('the AuthorizationPolicy admits the range the Function App is integrated into', () => {
    expect(outputValue('AZURE_FUNCTIONS_SUBNET_PREFIX')).toBe('network.outputs.functionsSubnetPrefix');
    const network = files.get('modules/network.bicep')!.source;
    expect(network).toMatch(/^output functionsSubnetPrefix string = functionsSubnetPrefix$/m);
    expect(network).toMatch(/name: 'snet-functions'\s+properties: \{\s+addressPrefix: functionsSubnetPrefix/);
    expect(network).toMatch(/^output functionsSubnetId string = '\$\{vnet\.id\}\/subnets\/snet-functions'$/m);
    const fnCall = main().modules.find((m) => m.path === 'modules/functionApp.bicep')!;
    expect(fnCall.node.text).toMatch(/subnetId: network\.outputs\.functionsSubnetId/);
    const [policy] = manifests('aks/ingress/authorization-policy.yaml') as unknown as {
      spec: { rules: { from: { source: { ipBlocks: string[] } }[] }[] };
    }[];
    expect(policy.spec.rules[0].from[0].source.ipBlocks).toEqual(['${AZURE_FUNCTIONS_SUBNET_PREFIX}']);
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
