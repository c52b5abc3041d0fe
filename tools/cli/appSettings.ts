// `npm run bicep:settings [-- --check]`: writes bicep/bindingSettings.json, the app settings that the functions'
// binding expressions (`%NAME%`, e.g. the drift timer's schedule) reference, with their defaults from
// shared/platform/config.ts. The Functions host resolves `%NAME%` from app settings only (it cannot see the app's defaults),
// so the Bicep must set them: main.bicep loads this file. `--check` exits 1 when the file is not current, which
// test/integration/tools/appSettings.test.ts also checks.
import fs from 'node:fs';
import path from 'node:path';
import { settingDefault } from '../../shared/platform/config';
import { loadFunctions } from '../devhost/host';
import { describeAzureBindings } from './azureBindings';
import { parseCliArgs, runCli } from './cliArgs';
import { projectRoot } from '../../shared/platform/projectRoot';

export const BINDING_SETTINGS_FILE = path.join('bicep', 'bindingSettings.json');

const USAGE = `usage: npm run bicep:settings [-- --check]
  writes ${BINDING_SETTINGS_FILE}; with --check it writes nothing and exits 1 when the file is not current`;

/** Setting name → the app's default, for every setting a binding references; a setting without one is an error. */
export function bindingSettings(referenced: Iterable<string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of [...referenced].sort()) {
    const value = settingDefault(name);
    if (value === undefined) throw new Error(`Binding expression %${name}% names a setting without a default in shared/platform/config.ts`);
    out[name] = value;
  }
  return out;
}

export function renderBindingSettings(settings: Record<string, string>): string {
  return `${JSON.stringify(settings, null, 2)}\n`;
}

function main(argv: string[]): number {
  const { values } = parseCliArgs(argv, { check: { type: 'boolean', default: false } });
  const projectDir = projectRoot();
  const { settingReferences } = describeAzureBindings(loadFunctions(projectDir));
  const text = renderBindingSettings(bindingSettings(Object.keys(settingReferences)));
  const file = path.join(projectDir, BINDING_SETTINGS_FILE);
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  if (values.check) {
    if (current === text) return 0;
    console.error(`${BINDING_SETTINGS_FILE} is not current: run npm run bicep:settings`);
    return 1;
  }
  fs.writeFileSync(file, text);
  console.log(`Wrote ${BINDING_SETTINGS_FILE}: ${Object.keys(settingReferences).join(', ') || 'no binding settings'}`);
  return 0;
}

if (require.main === module) runCli('bicep:settings', main, USAGE);
