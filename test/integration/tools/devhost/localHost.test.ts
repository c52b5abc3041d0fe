// The local host, run as `npm start` runs it (a child process over real HTTP and a real Azurite).
import { BlobServiceClient } from '@azure/storage-blob';
import path from 'node:path';
import { REPO_ROOT } from '../../../helpers/paths';
import { startTestAzurite, TestAzurite } from '../../../helpers/azurite';
import { RunningHost, startHostProcess, waitFor } from '../../../helpers/localHost';

const FIXTURE_PROJECT = path.join(REPO_ROOT, 'test', 'fixtures', 'hostProject');

let azurite: TestAzurite;

beforeAll(async () => {
  azurite = await startTestAzurite();
});

afterAll(async () => {
  await azurite.dispose();
});

async function listNames(service: BlobServiceClient, container: string, prefix = ''): Promise<string[]> {
  const names: string[] = [];
  const client = service.getContainerClient(container);
  if (!(await client.exists())) return names;
  for await (const b of client.listBlobsFlat({ prefix })) names.push(b.name);
  return names;
}

describe('the app on the local host', () => {
  let host: RunningHost;

  afterEach(async () => {
    await host?.stop();
  });

  it('serves GET /api/health with 200 within 30 s and stops cleanly on Ctrl-C', async () => {
    const started = Date.now();
    host = await startHostProcess({ env: { AzureWebJobsStorage: azurite.connectionString } });
    const res = await fetch(`${host.url}/health`);
    const body = (await res.json()) as { status: string; dependencies: Record<string, { status: string }> };
    expect(Date.now() - started).toBeLessThan(30000);
    expect(res.status).toBe(200);
    expect(body.dependencies.blob.status).toBe('ok');
    expect(await host.stop()).toBe(0);
    expect(host.output()).toContain('Stopped');
  });

  it('answers unknown routes and wrong methods with JSON errors, not crashes', async () => {
    host = await startHostProcess({ env: { AzureWebJobsStorage: azurite.connectionString } });
    const missing = await fetch(`${host.url}/no-such-function`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const wrongMethod = await fetch(`${host.url}/health`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
  });

  it('fails to start with a message naming a bad setting', async () => {
    await expect(startHostProcess({ env: { AzureWebJobsStorage: azurite.connectionString, LOCAL_BLOB_POLL_MS: 'often' } })).rejects.toThrow(
      /LOCAL_BLOB_POLL_MS="often": expected an integer/,
    );
  });
});

describe('triggers registered through @azure/functions', () => {
  let host: RunningHost;
  const service = () => BlobServiceClient.fromConnectionString(azurite.connectionString);

  beforeAll(async () => {
    host = await startHostProcess({
      projectDir: FIXTURE_PROJECT,
      env: { AzureWebJobsStorage: azurite.connectionString, LOCAL_BLOB_POLL_MS: '100', FIXTURE_TICK_SCHEDULE: '*/1 * * * * *' },
    });
  });

  afterAll(async () => {
    await host.stop();
  });

  it('routes an HTTP function with route parameters, query and body', async () => {
    const res = await fetch(`${host.url}/echo/hello?q=1`, { method: 'POST', body: 'payload' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ word: 'hello', body: 'payload', q: '1' });
  });

  it('invokes a blob-triggered function once with the blob name and content', async () => {
    const input = service().getContainerClient('fixture-in');
    await input.createIfNotExists();
    await input.getBlockBlobClient('dir/a.txt').upload('first blob', 10);
    const deliveries = await waitFor(
      async () => {
        const names = await listNames(service(), 'fixture-out', 'dir/a.txt/');
        return names.length ? names : undefined;
      },
      10000,
      'the blob trigger',
    );
    // Several more poll intervals: a second delivery of the same blob version would show up here.
    await new Promise((r) => setTimeout(r, 1000));
    const after = await listNames(service(), 'fixture-out', 'dir/a.txt/');
    expect(after).toHaveLength(1);
    const record = JSON.parse(
      (await service().getContainerClient('fixture-out').getBlobClient(deliveries[0]).downloadToBuffer()).toString(),
    );
    expect(record).toEqual({ name: 'dir/a.txt', path: 'fixture-in/dir/a.txt', content: 'first blob' });
  });

  it('runs a timer function on its NCRONTAB schedule', async () => {
    const ticks = await waitFor(
      async () => {
        const names = await listNames(service(), 'fixture-ticks');
        return names.length >= 3 ? names : undefined;
      },
      10000,
      'three timer ticks',
    );
    const seconds = ticks.slice(0, 3).map((t) => new Date(t).getTime() / 1000);
    // One tick per second, each close to the start of its second.
    expect(seconds[1] - seconds[0]).toBeCloseTo(1, 0);
    expect(seconds[2] - seconds[1]).toBeCloseTo(1, 0);
  });
});
