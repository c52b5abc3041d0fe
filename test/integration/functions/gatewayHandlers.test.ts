// The gateway's function registrations and handlers in-process: auth levels as Azure enforces them, and
// configuration errors surfacing as JSON (module load never throws; a bad setting is a 503 naming it).
import Module from 'node:module';
import { FunctionRegistry, installFunctionsCore } from '../../../tools/devhost/functionsCore';
import { freePort } from '../../../tools/devhost/azurite';
import { getConfig } from '../../../shared/platform/config';
import { resetFeatureStore } from '../../../shared/serving/featureStore/featureStore';
import { resetKServeClients } from '../../../shared/serving/kserve/kserveClient';
import { getInferenceLogger } from '../../../shared/logs/inferenceLogger';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

// The local host's stand-in for the Azure worker's `@azure/functions-core` (tools/devhost/functionsCore.ts), handed to
// Jest's module registry, which does not go through Node's resolver; then `app.http(...)` registers here exactly
// what it registers with the Azure host.
const registry = new FunctionRegistry();
installFunctionsCore(registry);
const core = (Module as unknown as { _cache: Record<string, { exports: unknown }> })._cache['@azure/functions-core'].exports;
jest.doMock('@azure/functions-core', () => core, { virtual: true });
/* eslint-disable @typescript-eslint/no-require-imports */
const { HttpRequest, InvocationContext } = require('@azure/functions') as typeof import('@azure/functions');
const { predict } = require('../../../functions/predict') as typeof import('../../../functions/predict');
require('../../../functions/transform');
require('../../../functions/health');
require('../../../functions/healthDetails');
require('../../../functions/index');

describe('registrations', () => {
  it('predict and transform need a function key in Azure, the health details the admin key; the health summary is anonymous', () => {
    const trigger = (name: string) => registry.functions.find((f) => f.name === name)?.trigger;
    expect(trigger('predict')).toMatchObject({ type: 'httpTrigger', authLevel: 'function', methods: ['POST'], route: 'predict' });
    expect(trigger('transform')).toMatchObject({ type: 'httpTrigger', authLevel: 'function', methods: ['POST'], route: 'transform' });
    expect(trigger('health')).toMatchObject({ type: 'httpTrigger', authLevel: 'anonymous', route: 'health' });
    expect(trigger('healthDetails')).toMatchObject({
      type: 'httpTrigger',
      authLevel: 'admin',
      methods: ['GET'],
      route: 'health/details',
    });
  });

  it('the app bootstrap (functions/index.ts) warms the models when the worker starts and flushes the inference logger when it stops', () => {
    expect(registry.hooks.get('appStart')?.length).toBe(1);
    expect(registry.hooks.get('appTerminate')?.length).toBe(1);
  });
});

// The predictions below go through the process's logger, feature store and KServe clients: close them, so that
// no upload retry or socket keeps the test worker alive. The logger writes to a private Azurite: against a storage
// endpoint that is not there, the upload in flight when close() gives up on it goes on in the Blob SDK (a retry
// backoff of 4 s and more, on a timer of its own), and that kept the worker from exiting when this file ran last.
let azurite: TestAzurite;
let restoreEnv: () => void;
beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({ AzureWebJobsStorage: azurite.connectionString });
});
afterAll(async () => {
  await getInferenceLogger().close(5000, 1000);
  await resetFeatureStore();
  resetKServeClients();
  restoreEnv();
  await azurite.dispose();
});

describe('handler', () => {
  it('a bad Feast setting degrades predictions instead of stopping them, and a secret value is never shown', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`; // KServe down: the embedded model answers
    const restore = setAppEnv({
      REDIS_URL: 'https://default:S3cretP4ss@cache.example:6380',
      KSERVE_PRODUCTION_URL: closed,
      KSERVE_STAGING_URL: closed,
    });
    try {
      const body = JSON.stringify({ subject: 'hello', from: 'a@example.com', to: 'b@example.org', body: 'lunch?' });
      const res = await predict(
        new HttpRequest({
          method: 'POST',
          url: 'http://localhost/api/predict',
          headers: { 'content-type': 'application/json' },
          body: { string: body },
        }),
        new InvocationContext(),
      );
      expect(res.status).toBe(200);
      expect(res.jsonBody).toMatchObject({ degraded: true, prediction: expect.stringMatching(/^(spam|ham)$/) });
      expect(() => getConfig().redisUrl).toThrow(/Invalid setting REDIS_URL \(value not shown: it may hold a credential\): expected/);
      expect(() => getConfig().redisUrl).not.toThrow(/S3cret/);
    } finally {
      restore();
    }
  });

  it('a bad setting is a JSON 503 naming it, with the request id echoed', async () => {
    const restore = setAppEnv({ PREDICT_MAX_BATCH: 'lots' });
    try {
      const res = await predict(
        new HttpRequest({
          method: 'POST',
          url: 'http://localhost/api/predict',
          headers: { 'content-type': 'application/json', 'x-request-id': 'cfg-1' },
          body: { string: '{}' },
        }),
        new InvocationContext(),
      );
      expect(res.status).toBe(503);
      expect(res.jsonBody).toEqual({ error: { code: 'misconfigured', message: expect.stringContaining('PREDICT_MAX_BATCH') } });
      expect(res.headers).toMatchObject({ 'X-Request-ID': 'cfg-1' });
    } finally {
      restore();
    }
  });
});
