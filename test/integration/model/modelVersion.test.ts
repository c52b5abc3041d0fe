// One model-version rule (shared/model/modelVersion.ts) at every place a version enters the app: the drift HTTP starter's
// `version` query, the version KServe reports to the gateway, the training CLI's --version, promotions. And the one
// compact UTC time used in names.
import { HttpRequest, InvocationContext } from '@azure/functions';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { runTrainCli } from '../../../tools/cli/train';
import { azuriteConnectionString } from '../../../tools/devhost/azurite';
import { driftRunStart } from '../../../functions/driftRunStart';
import { compactTime, CONTAINERS, rawLogBlobName } from '../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../shared/platform/blobStorage';
import { BadRequestError, ServiceUnavailableError } from '../../../shared/platform/errors';
import { validateModelVersion } from '../../../shared/model/modelVersion';
import { getEnvironmentModel } from '../../../shared/serving/predict/environmentModels';
import { newPromotionId } from '../../../shared/lifecycle/promotion/service';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

const INVALID = ['', '../1', '1/../../etc', '.hidden', 'a b', 'v'.repeat(65), '1\n'];

describe('validateModelVersion', () => {
  it('accepts simple names up to 64 characters', () => {
    for (const v of ['1', '20261126', 'v1.2.3', 'exp_4-b', 'v'.repeat(64)]) expect(validateModelVersion(v)).toBe(v);
  });

  it('refuses anything that could leave its folder or break a name, with a 400', () => {
    for (const v of [...INVALID, undefined, 3]) {
      expect(() => validateModelVersion(v)).toThrow(BadRequestError);
      expect(() => validateModelVersion(v)).toThrow(/is not a valid model version/);
    }
  });
});

describe('compactTime', () => {
  const t = new Date('2026-11-26T06:00:07.042Z');
  it('writes seconds, or milliseconds when asked, and sorts like time', () => {
    expect(compactTime(t)).toBe('20261126T060007Z');
    expect(compactTime(t, { milliseconds: true })).toBe('20261126T060007042Z');
    expect(newPromotionId('7', t)).toBe('promotion-7-20261126T060007Z');
    expect(rawLogBlobName('staging', t, t, 'w1', 3)).toBe('raw/env=staging/date=2026-11-26/hour=06/20261126T060007042Z-w1-00000003.csv');
  });
});

describe('where a version comes from outside', () => {
  let azurite: TestAzurite;
  let restore: () => void;

  beforeAll(async () => {
    azurite = await startTestAzurite();
    restore = setAppEnv({ AzureWebJobsStorage: azurite.connectionString, WORKFLOW_BACKEND: 'in-process' });
    await ensureContainers(Object.values(CONTAINERS));
  }, 60_000);

  afterAll(async () => {
    restore();
    await azurite.dispose();
  });

  it('the drift starter answers 400 to an invalid version query', async () => {
    for (const version of ['../../state/x', 'a/b']) {
      const res = await driftRunStart(
        new HttpRequest({ method: 'POST', url: `http://localhost/api/drift/run?env=production&version=${encodeURIComponent(version)}` }),
        new InvocationContext(),
      );
      expect(res.status).toBe(400);
      expect(JSON.stringify(res.jsonBody)).toMatch(/not a valid model version/);
    }
  });

  it('the gateway cannot follow an invalid version KServe reports, and keeps serving the one it has', async () => {
    const before = await getEnvironmentModel('staging');
    const err = await getEnvironmentModel('staging', '../../../etc').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceUnavailableError);
    expect((err as Error).message).toMatch(/not a valid model version/);
    expect(await getEnvironmentModel('staging')).toBe(before);
  }, 60_000);

  it('while a new version loads from a Blob that never answers, the model in force keeps answering; the failure is remembered', async () => {
    const before = await getEnvironmentModel('staging');
    const sockets = new Set<net.Socket>();
    const hole = net.createServer((socket) => {
      sockets.add(socket);
      socket.resume(); // accepts, reads, never answers
    });
    await new Promise<void>((resolve) => hole.listen(0, '127.0.0.1', resolve));
    const restore = setAppEnv({
      AzureWebJobsStorage: azuriteConnectionString((hole.address() as net.AddressInfo).port),
      BLOB_TIMEOUT_MS: '300',
    });
    try {
      const switching = getEnvironmentModel('staging', '9.9.9').catch((e: unknown) => e);
      // Requests that do not name the new version get the model in force at once, not after the load.
      const started = performance.now();
      expect(await getEnvironmentModel('staging')).toBe(before);
      expect(performance.now() - started).toBeLessThan(250); // the switching load takes at least BLOB_TIMEOUT_MS (300)
      const err = await switching;
      expect(err).toBeInstanceOf(ServiceUnavailableError);
      expect((err as ServiceUnavailableError).message).toMatch(/staging model \(version "9.9.9"\) cannot be loaded: .*abort/);
      // The next request for that version fails at once (the 503's Retry-After), instead of waiting for Blob again.
      const again = performance.now();
      expect(await getEnvironmentModel('staging', '9.9.9').catch((e: unknown) => e)).toBe(err);
      expect(performance.now() - again).toBeLessThan(250);
      expect(await getEnvironmentModel('staging')).toBe(before);
    } finally {
      restore();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => hole.close(() => resolve()));
    }
  }, 60_000);

  it('the training CLI refuses an invalid --version before training', async () => {
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'train-version-'));
    try {
      await expect(runTrainCli(['--version', 'v'.repeat(65), '--out', out], () => undefined)).rejects.toThrow(/not a valid model version/);
      expect(fs.readdirSync(out)).toEqual([]);
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
