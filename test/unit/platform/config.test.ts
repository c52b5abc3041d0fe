import { HttpRequest, InvocationContext } from '@azure/functions';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, getConfig, loadConfig, settingDefault, settingSpecs } from '../../../shared/platform/config';
import { ncrontabProblem } from '../../../shared/platform/ncrontab';
import { setAppEnv } from '../../helpers/env';
import { REPO_ROOT } from '../../helpers/paths';

describe('configuration', () => {
  it('parses embedded defaults for local development', () => {
    const config = loadConfig({});
    expect(config.storageConnectionString).toBe('UseDevelopmentStorage=true');
    expect(config.localHostPort).toBe(7071);
    expect(config.storageAccountName).toBeUndefined();
  });

  it('names the setting and what is expected when a value is wrong', () => {
    expect(() => loadConfig({ BLOB_TIMEOUT_MS: 'soon' })).toThrow(
      new ConfigError('BLOB_TIMEOUT_MS', 'soon', 'an integer from 100 to 120000'),
    );
    expect(() => loadConfig({ BLOB_TIMEOUT_MS: '5' })).toThrow(/BLOB_TIMEOUT_MS="5": expected an integer from 100 to 120000/);
    expect(() => loadConfig({ AzureWebJobsStorage__blobServiceUri: 'not a url' })).toThrow(
      /AzureWebJobsStorage__blobServiceUri="not a url": expected an absolute URL/,
    );
  });

  it('refuses an unresolved Key Vault reference in a secret setting, naming the setting but not the value', () => {
    const reference = '@Microsoft.KeyVault(SecretUri=https://kv-spam.vault.azure.net/secrets/sender-hash-key/)';
    let caught: unknown;
    try {
      loadConfig({ SENDER_HASH_KEY: reference });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).message).toMatch(/SENDER_HASH_KEY .*unresolved Key Vault reference/);
    expect((caught as ConfigError).message).not.toMatch(/kv-spam/);
    // A setting that holds no secret may look like anything.
    expect(loadConfig({ FEAST_PROJECT: '@Microsoft.KeyVault(x)' }).feastProject).toBe('@Microsoft.KeyVault(x)');
  });

  it('validates each setting on first use, so a bad promotion setting does not stop predictions', () => {
    const restore = setAppEnv({ AKS_SERVER_URL: 'cluster.example' });
    try {
      const config = getConfig();
      expect(config.blobTimeoutMs).toBe(5000);
      expect(config.kserveProductionUrl).toMatch(/^http/);
      expect(() => config.aksServerUrl).toThrow(/AKS_SERVER_URL="cluster.example": expected an absolute URL/);
      expect(() => loadConfig()).toThrow(/AKS_SERVER_URL/);
    } finally {
      restore();
    }
  });

  it('reads schedules as NCRONTAB does, refusing what only other cron dialects accept', () => {
    for (const ok of [
      '0 0 6 * * *',
      '0 */5 * * * *',
      '0 0 6 13 * FRI',
      '0 30 9 * JAN-MAR MON-FRI',
      '10,20 0 0 1-7 * 1',
      '0 0-30/10 * * * *',
    ]) {
      expect(loadConfig({ DRIFT_SCHEDULE: ok }).driftSchedule).toBe(ok);
      expect(ncrontabProblem(ok)).toBeUndefined();
    }
    for (const [bad, why] of [
      ['0 0 6 * *', /has 5 fields, not 6/],
      ['99 99 99 * * *', /second field '99' must be a comma list of 0-59 values/],
      ['0 0 6 L * *', /day field 'L'/],
      ['0 0 6 15W * *', /day field '15W'/],
      ['0 0 6 ? * *', /day field '\?'/],
      ['0 0 6 * * 7', /day-of-week field '7' must be a comma list of 0-6 or SUN-SAT values/],
      ['0 0 6 * * 5#2', /day-of-week field '5#2'/],
      ['0 0 */0 * * *', /hour field '\*\/0'/],
      ['5/20 * * * * *', /second field '5\/20'/],
      ['0 10-5 * * * *', /minute field '10-5'/],
      ['0 0 6 * * FRI-MON', /day-of-week field 'FRI-MON'/],
    ] as const) {
      expect(() => loadConfig({ DRIFT_SCHEDULE: bad })).toThrow(why);
    }
  });

  it('gives every setting a description and a unique name', () => {
    const names = Object.values(settingSpecs).map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of Object.values(settingSpecs)) expect(s.description.length).toBeGreaterThan(10);
  });

  it('is not read at module load: a bad value surfaces as a JSON 503 naming the setting', async () => {
    const restore = setAppEnv({ BLOB_TIMEOUT_MS: 'soon' });
    try {
      // Loading the function module must not throw, or the host would lose every function.
      // eslint-disable-next-line @typescript-eslint/no-require-imports -- loaded here, after the bad setting, to show loading does not read it
      const { health } = require('../../../functions/health') as typeof import('../../../functions/health');
      const res = await health(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }), new InvocationContext());
      expect(res.status).toBe(503);
      expect(res.jsonBody).toEqual({ error: { code: 'misconfigured', message: expect.stringContaining('BLOB_TIMEOUT_MS') } });
    } finally {
      restore();
    }
  });

  it('local.settings.example.json sets every %NAME% binding setting and only settings the app defines', () => {
    const root = REPO_ROOT;
    const values = JSON.parse(fs.readFileSync(path.join(root, 'local.settings.example.json'), 'utf8')).Values as Record<string, string>;
    const bindingSettings = JSON.parse(fs.readFileSync(path.join(root, 'bicep', 'bindingSettings.json'), 'utf8')) as Record<string, string>;
    // Core Tools resolves %NAME% in bindings from local.settings.json only (the local host also falls back to defaults).
    for (const name of Object.keys(bindingSettings)) expect(values[name]).toBe(settingDefault(name));
    const known = new Set(Object.values(settingSpecs).map((s) => s.name));
    for (const name of Object.keys(values)) if (name !== 'FUNCTIONS_WORKER_RUNTIME') expect(known).toContain(name);
  });
});
