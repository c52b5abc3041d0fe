import { HttpRequest, InvocationContext } from '@azure/functions';
import { ConfigError, loadConfig, settingSpecs } from '../shared/config';
import { setAppEnv } from './helpers/env';

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

  it('gives every setting a description and a unique name', () => {
    const names = Object.values(settingSpecs).map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    for (const s of Object.values(settingSpecs)) expect(s.description.length).toBeGreaterThan(10);
  });

  it('is not read at module load: a bad value surfaces as a JSON 503 naming the setting', async () => {
    const restore = setAppEnv({ BLOB_TIMEOUT_MS: 'soon' });
    try {
      // Loading the function module must not throw, or the host would lose every function.
      const { health } = await import('../functions/health');
      const res = await health(new HttpRequest({ method: 'GET', url: 'http://localhost/api/health' }), new InvocationContext());
      expect(res.status).toBe(503);
      expect(res.jsonBody).toEqual({ error: { code: 'misconfigured', message: expect.stringContaining('BLOB_TIMEOUT_MS') } });
    } finally {
      restore();
    }
  });
});
