// The drift timer and the baseline event under failure: an environment whose check fails does not stop the others,
// a retried tick keeps its run id, a delivery that crashed before updating the active-baseline index repairs it on
// redelivery, and the baseline trigger refuses anything but the blob's bytes. On a private Azurite.
import { InvocationContext, Timer } from '@azure/functions';
import { baselineEvent } from '../../../functions/baselineEvent';
import { driftTimer } from '../../../functions/driftTimer';
import {
  activeBaselineIndexPath,
  CONTAINERS,
  compactionManifestPath,
  Environment,
  hourPartition,
} from '../../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient, readJsonBlob, writeJsonBlob } from '../../../shared/platform/blobStorage';
import { activateBaselineUpload, latestActiveVersion, listActiveVersions } from '../../../shared/drift/activeBaseline';
import { scheduledRunId, scheduleSlot } from '../../../shared/drift/driftSchedule';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { captureLogger } from '../../helpers/driftFixtures';
import { baselineBytes, MODEL, uploadBaseline } from '../../helpers/driftLogs';
import { setAppEnv } from '../../helpers/env';

let azurite: TestAzurite;
let restoreEnv: () => void;
const HOUR = 3600_000;

function context(triggerMetadata: Record<string, unknown> = {}): InvocationContext & { lines: string[] } {
  const logger = captureLogger();
  const ctx = new InvocationContext({
    functionName: 'test',
    triggerMetadata,
    logHandler: (_level, ...args) => logger.lines.push(args.map(String).join(' ')),
  });
  return Object.assign(ctx, { lines: logger.lines });
}

function timerAt(next: string): Timer {
  return { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next, lastUpdated: '' } };
}

/** A manifest that is not JSON in the hour before now: reading that environment's window fails. */
async function breakEnvironment(env: Environment): Promise<void> {
  const p = { env, ...hourPartition(new Date(Date.now() - HOUR)) };
  await getContainerClient(CONTAINERS.inferenceLogs).getBlockBlobClient(compactionManifestPath(p)).upload('{not json', 9);
}

async function repairEnvironment(env: Environment): Promise<void> {
  const p = { env, ...hourPartition(new Date(Date.now() - HOUR)) };
  await getContainerClient(CONTAINERS.inferenceLogs).deleteBlob(compactionManifestPath(p));
}

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    ALERT_WEBHOOK_URL: undefined,
    DRIFT_ENVIRONMENTS: 'production,staging',
    DRIFT_MIN_ROWS: '100',
    DRIFT_WINDOW_HOURS: '24',
    WORKFLOW_BACKEND: 'in-process',
  });
  await ensureContainers(Object.values(CONTAINERS));
}, 60_000);

afterAll(async () => {
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
});

describe('active baseline index', () => {
  it('a redelivered event repairs the index that a crash after the record write left behind', async () => {
    const v1 = baselineBytes({ version: '1' });
    const v2 = baselineBytes({ version: '2' });
    expect((await activateBaselineUpload(await uploadBaseline(v1, '1'), v1, new Date('2026-11-20T00:00:00Z'))).outcome).toBe('activated');
    expect((await activateBaselineUpload(await uploadBaseline(v2, '2'), v2, new Date('2026-11-21T00:00:00Z'))).outcome).toBe('activated');
    expect(await latestActiveVersion(MODEL)).toBe('2');

    // The crash: version 2's record was written, its index entry never was.
    const index = (await readJsonBlob<{ model: string; versions: { version: string }[] }>(
      CONTAINERS.driftReports,
      activeBaselineIndexPath(MODEL),
    ))!;
    await writeJsonBlob(CONTAINERS.driftReports, activeBaselineIndexPath(MODEL), {
      ...index.value,
      versions: index.value.versions.filter((v) => v.version === '1'),
    });
    expect(await latestActiveVersion(MODEL)).toBe('1');

    const again = await activateBaselineUpload('spam-detector/2/baseline.json', v2, new Date('2026-11-22T00:00:00Z'));
    expect(again.outcome).toBe('already_active');
    expect(await latestActiveVersion(MODEL)).toBe('2');
    expect((await listActiveVersions(MODEL)).find((v) => v.version === '2')!.activated_at).toBe('2026-11-21T00:00:00.000Z');
  });

  it('a redelivery with the index already right writes nothing', async () => {
    const before = (await readJsonBlob(CONTAINERS.driftReports, activeBaselineIndexPath(MODEL)))!.etag;
    const v2 = baselineBytes({ version: '2' });
    expect((await activateBaselineUpload('spam-detector/2/baseline.json', v2, new Date())).outcome).toBe('already_active');
    expect((await readJsonBlob(CONTAINERS.driftReports, activeBaselineIndexPath(MODEL)))!.etag).toBe(before);
  });
});

describe('baseline trigger input', () => {
  it('refuses a string or parsed object instead of hashing re-serialised bytes', async () => {
    const text = baselineBytes({ version: '3' }).toString('utf8');
    const name = await uploadBaseline(text, '3');
    await expect(baselineEvent(text, context({ name }))).rejects.toThrow(/dataType 'binary'/);
    await expect(baselineEvent(JSON.parse(text), context({ name }))).rejects.toThrow(/not the blob's bytes/);
    expect((await listActiveVersions(MODEL)).map((v) => v.version)).not.toContain('3');
  });
});

describe('drift timer', () => {
  it('checks the other environments when one fails, and reports the failure', async () => {
    await breakEnvironment('production');
    try {
      const ctx = context();
      const summaries = await driftTimer(timerAt(''), ctx);
      expect(summaries.map((s) => s.environment)).toEqual(['production', 'staging']);
      expect(summaries[0].status).toBe('failed');
      expect(summaries[0].reason).toMatch(/JSON/);
      expect(summaries[1].status).toBe('insufficient_data'); // staging ran: no logs in its window
      expect(ctx.lines.join('\n')).toMatch(/drift production: the check failed/);
    } finally {
      await repairEnvironment('production');
    }
  }, 60_000);

  it('fails the invocation only when every environment failed', async () => {
    await breakEnvironment('production');
    await breakEnvironment('staging');
    try {
      await expect(driftTimer(timerAt(''), context())).rejects.toThrow(/every environment.*production: .*staging: /);
    } finally {
      await repairEnvironment('production');
      await repairEnvironment('staging');
    }
  }, 60_000);

  it('a retried tick keeps the run id and window of its schedule slot', async () => {
    const slot = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000);
    const first = await driftTimer(timerAt(slot.toISOString()), context());
    expect(first.map((s) => s.run_id)).toEqual([scheduledRunId('production', slot), scheduledRunId('staging', slot)]);
    expect(first[0].run_id).toBe(
      `timer-${slot
        .toISOString()
        .replace(/[-:]/g, '')
        .replace(/\.\d+Z$/, 'Z')}-production`,
    );
    await new Promise((r) => setTimeout(r, 1100));
    const retry = await driftTimer(timerAt(slot.toISOString()), context());
    expect(retry.map((s) => s.run_id)).toEqual(first.map((s) => s.run_id));
  }, 60_000);

  it('takes the slot from the schedule status only when it is not in the future', () => {
    const now = new Date('2026-11-26T06:00:41.250Z');
    expect(scheduleSlot('2026-11-26T06:00:00.000Z', now).toISOString()).toBe('2026-11-26T06:00:00.000Z');
    expect(scheduleSlot('2026-11-25T06:00:00.000Z', now).toISOString()).toBe('2026-11-25T06:00:00.000Z'); // past due
    expect(scheduleSlot('2026-11-27T06:00:00.000Z', now).toISOString()).toBe('2026-11-26T06:00:00.000Z'); // the next tick
    expect(scheduleSlot('', now).toISOString()).toBe('2026-11-26T06:00:00.000Z');
    expect(scheduleSlot('not a date', now).toISOString()).toBe('2026-11-26T06:00:00.000Z');
  });
});
