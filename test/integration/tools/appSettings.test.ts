// The app settings the Bicep gives the Function App against the settings the app defines (shared/platform/config.ts
// `settingSpecs`) and the ones its bindings reference: a setting cannot exist in one place and not the other.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bindingSettings as bindingSettingsFor, renderBindingSettings } from '../../../tools/cli/appSettings';
import { describeAzureBindings } from '../../../tools/cli/azureBindings';
import { FunctionRegistry } from '../../../tools/devhost/functionsCore';
import type { Node as SyntaxNode } from 'web-tree-sitter';
import { SettingSpec, settingSpecs } from '../../../shared/platform/config';
import { BICEP_DIR, BicepFile, parseBicep, propertyKey, variableObject } from '../../helpers/bicepParser';
import { REPO_ROOT, distPath } from '../../helpers/paths';

// Settings of the Functions platform and the Azure SDKs, not of the app. FUNCTIONS_WORKER_RUNTIME and
// FUNCTIONS_EXTENSION_VERSION are absent on purpose: Flex Consumption rejects them (functionAppConfig.runtime).
const PLATFORM_SETTINGS = new Set([
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  'AZURE_CLIENT_ID',
  'NODE_EXTRA_CA_CERTS',
  'AzureFunctionsJobHost__logging__logLevel__default',
]);
const FLEX_REJECTED = [
  'FUNCTIONS_WORKER_RUNTIME',
  'FUNCTIONS_EXTENSION_VERSION',
  'WEBSITE_NODE_DEFAULT_VERSION',
  'WEBSITE_RUN_FROM_PACKAGE',
];

// Secret settings whose Azure value carries no credential because the app authenticates with its managed identity.
const IDENTITY_AUTHENTICATED: Record<string, RegExp> = {
  // Azure Managed Redis with access keys disabled: the URL names host and port only; the password is an Entra token.
  REDIS_URL: /^rediss:\/\/\$\{[^}@]+\}:\$\{[^}@]+\}$/,
};

const specs = Object.values(settingSpecs) as SettingSpec<unknown>[];
const specByName = new Map(specs.map((s) => [s.name, s]));

let main: BicepFile;
let appSettings: Map<string, SyntaxNode>;
let platformSettings: Map<string, SyntaxNode>;
let bindingSettings: Record<string, string>;

beforeAll(async () => {
  main = await parseBicep(path.join(BICEP_DIR, 'main.bicep'));
  appSettings = variableObject(main, 'appSettings');
  platformSettings = propertiesIn(main, 'platformSettings');
  bindingSettings = JSON.parse(fs.readFileSync(path.join(BICEP_DIR, 'bindingSettings.json'), 'utf8'));
});

/** Every app setting of the app that the Bicep sets: the literal ones and the generated binding ones. */
const bicepAppSettings = () => new Set([...appSettings.keys(), ...Object.keys(bindingSettings)]);

/** Every property of the object literals a variable is built from (`union({...}, cond ? {} : {...})`). */
function propertiesIn(file: BicepFile, variable: string): Map<string, SyntaxNode> {
  const decl = file.variables.find((v) => v.name === variable)!;
  return new Map(decl.node.descendantsOfType('object_property').map((p) => [propertyKey(p!), p!.namedChild(1)!]));
}

/** Settings the app needs from the Bicep but does not get, and settings the Bicep sets that the app does not define. */
function compareSettings(list: SettingSpec<unknown>[], bicep: Set<string>): { missing: string[]; undefinedInApp: string[] } {
  const names = new Set(list.map((s) => s.name));
  return {
    missing: list.filter((s) => s.azure === 'bicep' && !bicep.has(s.name)).map((s) => s.name),
    undefinedInApp: [...bicep].filter((k) => !names.has(k)),
  };
}

/** A string value with every `${...}` replaced by `1`: what the setting looks like, for the app's own parser. */
function sampleValue(node: SyntaxNode): string | undefined {
  if (node.type !== 'string') return undefined;
  return node.namedChildren.map((c) => (c!.type === 'interpolation' ? '1' : c!.text)).join('');
}

describe('app settings in bicep/main.bicep', () => {
  it('sets every setting the app marks azure: "bicep", and no setting the app does not define', () => {
    expect(compareSettings(specs, bicepAppSettings())).toEqual({ missing: [], undefinedInApp: [] });
    // One place per setting: a generated binding setting is not also written by hand.
    expect([...appSettings.keys()].filter((k) => k in bindingSettings)).toEqual([]);
  });

  it('keeps platform settings apart and sets none that Flex Consumption rejects', () => {
    expect([...platformSettings.keys()].filter((k) => !PLATFORM_SETTINGS.has(k))).toEqual([]);
    expect([...platformSettings.keys()].filter((k) => specByName.has(k))).toEqual([]);
    expect([...platformSettings.keys(), ...appSettings.keys()].filter((k) => FLEX_REJECTED.includes(k))).toEqual([]);
    // Both objects reach the site, and nothing else does.
    expect(main.source).toMatch(/appSettings: union\(platformSettings, bindingSettings, appSettings\)/);
    expect(main.source).toMatch(/var bindingSettings = loadJsonContent\('bindingSettings\.json'\)/);
  });

  it('gives secrets only as Key Vault references or identity-based connections, never literals', () => {
    for (const [name, value] of appSettings) {
      const spec = specByName.get(name)!;
      if (!spec.secret) continue;
      const keyVault = /^'@Microsoft\.KeyVault\(VaultName=\$\{[^}]+\};SecretName=\$\{[^}]+\}\)'$/.test(value.text);
      const identity = IDENTITY_AUTHENTICATED[name]?.test(value.text.slice(1, -1)) ?? false;
      expect({ name, value: value.text, safe: keyVault || identity }).toEqual({ name, value: value.text, safe: true });
    }
  });

  it('gives the storage connection identity-based settings only (no connection string in Azure)', () => {
    expect(appSettings.has('AzureWebJobsStorage')).toBe(false);
    expect(appSettings.get('AzureWebJobsStorage__credential')?.text).toBe("'managedidentity'");
    expect(appSettings.get('AzureWebJobsStorage__clientId')?.text).toBe('appIdentity.outputs.clientId');
    expect(platformSettings.get('AZURE_CLIENT_ID')?.text).toBe('appIdentity.outputs.clientId');
  });

  it("gives literal-shaped values that the app's own parser accepts", () => {
    for (const [name, value] of appSettings) {
      const sample = sampleValue(value);
      if (sample === undefined || sample.startsWith('@Microsoft.KeyVault(')) continue;
      expect(() => specByName.get(name)!.parse(sample)).not.toThrow();
    }
  });

  it('names no Bicep output like an app setting (azd values exported into a shell must not reconfigure the app)', () => {
    expect(main.outputs.map((o) => o.name).filter((n) => specByName.has(n))).toEqual([]);
  });

  it('the comparison reports both directions on a made-up configuration', () => {
    const made = [
      { ...settingSpecs.storageAccountName, name: 'ONLY_IN_APP', azure: 'bicep' as const },
      { ...settingSpecs.storageAccountName, name: 'OPTIONAL_ONE', azure: 'optional' as const },
    ];
    expect(compareSettings(made, new Set(['OPTIONAL_ONE', 'ONLY_IN_BICEP']))).toEqual({
      missing: ['ONLY_IN_APP'],
      undefinedInApp: ['ONLY_IN_BICEP'],
    });
  });
});

describe('settings and Event Grid subscriptions the registered functions need', () => {
  let bindings: {
    eventGridSubscriptions: { name: string; functionName: string; container: string; subjectBeginsWith: string }[];
    settingReferences: Record<string, string[]>;
    problems: string[];
  };

  beforeAll(() => {
    // The compiled registrations (npm test builds first), read the way the postdeploy hook reads them.
    const out = execFileSync(process.execPath, [distPath('tools', 'cli', 'azureBindings.js'), 'json', REPO_ROOT], { encoding: 'utf8' });
    bindings = JSON.parse(out);
  });

  it("sets every app setting a binding expression (%NAME%) references, with the app's default (bicep/bindingSettings.json is current)", () => {
    for (const [name, functions] of Object.entries(bindings.settingReferences)) {
      expect({ name, functions, defined: specByName.has(name) }).toEqual({ name, functions, defined: true });
    }
    // What `npm run bicep:settings` would write now.
    expect(renderBindingSettings(bindingSettingsFor(Object.keys(bindings.settingReferences)))).toBe(
      fs.readFileSync(path.join(BICEP_DIR, 'bindingSettings.json'), 'utf8'),
    );
    for (const [name, value] of Object.entries(bindingSettings)) expect(() => specByName.get(name)!.parse(value)).not.toThrow();
  });

  it('every blob trigger uses the Event Grid source and a container the Bicep creates', () => {
    expect(bindings.problems).toEqual([]);
    const containers = main.variables.find((v) => v.name === 'dataContainers')!.node.text;
    for (const s of bindings.eventGridSubscriptions) {
      expect(containers).toContain(`'${s.container}'`);
      expect(s.subjectBeginsWith).toMatch(new RegExp(`^/blobServices/default/containers/${s.container}/blobs/`));
      expect(s.name).toMatch(/^[A-Za-z0-9-]{3,64}$/);
    }
  });
});

describe('reading the registrations (tools/cli/azureBindings.ts, tools/cli/appSettings.ts)', () => {
  const registry = () => {
    const r = new FunctionRegistry();
    const noop = () => undefined;
    r.register(
      { name: 'onRaw', bindings: { t: { type: 'blobTrigger', direction: 'in', path: 'inference-logs/raw/{name}', source: 'EventGrid' } } },
      noop,
    );
    r.register({ name: 'scanned', bindings: { t: { type: 'blobTrigger', direction: 'in', path: 'baselines/{name}' } } }, noop);
    r.register({ name: 'nightly', bindings: { t: { type: 'timerTrigger', direction: 'in', schedule: '%DRIFT_SCHEDULE%' } } }, noop);
    r.register(
      { name: 'Odd_Name.v2', bindings: { t: { type: 'blobTrigger', direction: 'in', path: '%CONTAINER%/x/{name}', source: 'EventGrid' } } },
      noop,
    );
    return r;
  };

  it('turns Event Grid blob triggers into subscriptions and reports the ones Flex Consumption would not fire', () => {
    const b = describeAzureBindings(registry());
    expect(b.eventGridSubscriptions[0]).toEqual({
      name: 'blob-onraw',
      functionName: 'onRaw',
      container: 'inference-logs',
      subjectBeginsWith: '/blobServices/default/containers/inference-logs/blobs/raw/',
    });
    expect(b.eventGridSubscriptions[1].name).toBe('blob-odd-name-v2');
    expect(b.problems).toEqual([
      "scanned: blob trigger source is LogsAndContainerScan, Flex Consumption needs 'EventGrid'",
      'Odd_Name.v2: blob path %CONTAINER%/x/{name} uses an app setting; the subscription filters on its literal start only',
    ]);
    expect(b.settingReferences).toEqual({ DRIFT_SCHEDULE: ['nightly'], CONTAINER: ['Odd_Name.v2'] });
  });

  it('generates binding settings from the app defaults and refuses a setting without one', () => {
    expect(bindingSettingsFor(['DRIFT_SCHEDULE'])).toEqual({ DRIFT_SCHEDULE: settingSpecs.driftSchedule.default });
    expect(() => bindingSettingsFor(['NO_SUCH_SETTING'])).toThrow(/%NO_SUCH_SETTING%/);
  });
});
