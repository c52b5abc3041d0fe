// The drift functions on a private Azurite with real logs: raw NDJSON written by the gateway's logger and Parquet
// parts written by the compactor. Baseline events (invalid, valid, duplicate, invalid after valid), the timer,
// alert suppression across runs, insufficient data.
import { InvocationContext, Timer } from '@azure/functions';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { baselineEvent } from '../../../functions/baselineEvent';
import { driftTimer } from '../../../functions/driftTimer';
import { CONTAINERS, driftReportPath } from '../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../shared/platform/blobStorage';
import { clearActiveBaselineCache, getActiveBaseline, readActiveRecord } from '../../../shared/drift/activeBaseline';
import { readAlertState } from '../../../shared/drift/alerts';
import { DriftRunRequest } from '../../../shared/drift/driftRun';
import { scheduledRequests } from '../../../shared/drift/driftSchedule';
import { readRunReport, runDriftInProcess } from '../../../shared/drift/orchestration';
import { DriftReport } from '../../../shared/drift/report';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { captureLogger, startWebhookReceiver, WebhookReceiver } from '../../helpers/driftFixtures';
import {
  baselineBytes,
  compactHour,
  logRecords,
  MODEL,
  readReportJson,
  records,
  reportBlobs,
  uploadBaseline,
} from '../../helpers/driftLogs';
import { setAppEnv } from '../../helpers/env';
import { REPO_ROOT, distPath } from '../../helpers/paths';

let azurite: TestAzurite;
let restoreEnv: () => void;
let hook: WebhookReceiver;
const HOUR = 3600_000;
// The logs lie in the three hours before "now" (the timer's window ends at the current minute).
const NOW = new Date(Math.floor(Date.now() / HOUR) * HOUR);
const H3 = new Date(NOW.getTime() - 3 * HOUR);
const H2 = new Date(NOW.getTime() - 2 * HOUR);
const H1 = new Date(NOW.getTime() - 1 * HOUR);

function context(): InvocationContext & { lines: string[] } {
  const logger = captureLogger();
  const ctx = new InvocationContext({
    functionName: 'test',
    logHandler: (_level, ...args) => logger.lines.push(args.map(String).join(' ')),
  });
  return Object.assign(ctx, { lines: logger.lines });
}

function blobContext(name: string): InvocationContext & { lines: string[] } {
  const ctx = context();
  (ctx as { triggerMetadata: Record<string, unknown> }).triggerMetadata = { name };
  return ctx;
}

const timer: Timer = { isPastDue: false, schedule: { adjustForDST: false }, scheduleStatus: { last: '', next: '', lastUpdated: '' } };

beforeAll(async () => {
  azurite = await startTestAzurite();
  hook = await startWebhookReceiver();
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    ALERT_WEBHOOK_URL: hook.url,
    DRIFT_ENVIRONMENTS: 'production,staging',
    DRIFT_MIN_ROWS: '100',
    DRIFT_WINDOW_HOURS: '24',
    WORKFLOW_BACKEND: 'in-process',
    COMPACTION_ROW_GROUP_ROWS: '1000',
  });
  await ensureContainers(Object.values(CONTAINERS));
  // production: the reference distribution (another seed), two hours compacted to Parquet, the last one still raw.
  await logRecords([
    ...records({ env: 'production', hour: H3, count: 500, seed: 11 }),
    ...records({ env: 'production', hour: H2, count: 500, seed: 12 }),
    ...records({ env: 'production', hour: H1, count: 400, seed: 13 }),
  ]);
  // staging: the same model version with drifted inputs, plus rows of another version that must be left out.
  await logRecords([
    ...records({ env: 'staging', hour: H2, count: 400, seed: 21, shift: 1.6 }),
    ...records({ env: 'staging', hour: H1, count: 300, seed: 22, shift: 1.6 }),
    ...records({ env: 'staging', hour: H1, count: 40, seed: 23, version: '2' }),
  ]);
  expect(await compactHour('production', H3)).toBe(500);
  expect(await compactHour('production', H2)).toBe(500);
  expect(await compactHour('staging', H2)).toBe(400);
}, 120_000);

afterAll(async () => {
  await hook.close();
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
});

describe('baseline event', () => {
  it('rejects an invalid baseline with a report listing the problems, and activates nothing', async () => {
    const name = await uploadBaseline('{"schemaVersion": 1, "model": {"name": "spam-detector"}}');
    const ctx = blobContext(name);
    const result = await baselineEvent(Buffer.from('{"schemaVersion": 1, "model": {"name": "spam-detector"}}'), ctx);
    expect(result.outcome).toBe('rejected');
    expect(result.issues!.length).toBeGreaterThan(2);
    const rejection = await readReportJson(result.rejectionPath!);
    expect(rejection).toMatchObject({ kind: 'baseline_rejected', status: 'rejected', model: MODEL, version: '1', still_active: null });
    expect(rejection.issues.join('\n')).toMatch(/model\.version/);
    expect(await readActiveRecord(MODEL, '1')).toBeUndefined();
    expect(ctx.lines.join('\n')).toMatch(/rejected .*no baseline is active for this version/);
  });

  let firstReports: string[] = [];

  it('activates a valid baseline and runs a drift check at once in every environment', async () => {
    const bytes = baselineBytes();
    const name = await uploadBaseline(bytes);
    const result = await baselineEvent(bytes, blobContext(name));
    expect(result.outcome).toBe('activated');
    expect(result.checks.map((c) => [c.environment, c.status])).toEqual([
      ['production', 'healthy'],
      ['staging', 'critical'],
    ]);
    const record = (await readActiveRecord(MODEL, '1'))!.record;
    expect(record.checked_at).not.toBeNull();
    const production = await readReportJson<DriftReport>(result.checks[0].report!.json!);
    expect(production).toMatchObject({
      status: 'healthy',
      trigger: 'baseline_event',
      environment: 'production',
      model: { name: MODEL, version: '1' },
    });
    expect(production.rows.current).toBe(1400);
    expect(production.baseline.sha256).toBe(record.sha256);
    expect(production.window!.end).toBe(record.activated_at);
    const staging = await readReportJson<DriftReport>(result.checks[1].report!.json!);
    expect(staging.rows.current).toBe(700);
    expect(staging.rows.other_model_versions).toEqual({ [`${MODEL} 2`]: 40 });
    expect(staging.summary.drifted.length).toBeGreaterThan(5);
    expect(staging.alert.action).toBe('sent');
    expect(hook.received).toHaveLength(1);
    firstReports = await reportBlobs('env=');
    expect(firstReports).toHaveLength(4); // JSON + HTML per environment
  });

  it('ignores a duplicate delivery of the same baseline (no second check, report or alert)', async () => {
    const bytes = baselineBytes();
    const ctx = blobContext('spam-detector/1/baseline.json');
    const result = await baselineEvent(bytes, ctx);
    expect(result).toEqual({ outcome: 'already_active', checks: [] });
    expect(await reportBlobs('env=')).toEqual(firstReports);
    expect(hook.received).toHaveLength(1);
    expect(ctx.lines.join('\n')).toContain('duplicate event ignored');
  });

  it('keeps the previous baseline active when a later upload is invalid', async () => {
    const before = (await readActiveRecord(MODEL, '1'))!.record;
    const corrupt = baselineBytes().toString('utf8').replace('"schemaVersion":1', '"schemaVersion":99');
    const name = await uploadBaseline(corrupt);
    const result = await baselineEvent(Buffer.from(corrupt), blobContext(name));
    expect(result.outcome).toBe('rejected');
    expect(result.issues!.join(' ')).toMatch(/schemaVersion/);
    const rejection = await readReportJson(result.rejectionPath!);
    expect(rejection.still_active.sha256).toBe(before.sha256);
    clearActiveBaselineCache();
    const active = await getActiveBaseline(MODEL, '1');
    expect(active!.record.sha256).toBe(before.sha256);
    expect(active!.baseline.schemaVersion).toBe(1);
  });

  it('ignores blobs outside the baseline layout', async () => {
    const result = await baselineEvent(Buffer.from('{}'), blobContext('notes/readme.txt'));
    expect(result.outcome).toBe('ignored');
  });
});

describe('drift timer', () => {
  it('checks every environment over the last 24 h and stores JSON and HTML reports', async () => {
    const ctx = context();
    const summaries = await driftTimer(timer, ctx);
    expect(summaries.map((s) => [s.environment, s.status])).toEqual([
      ['production', 'healthy'],
      ['staging', 'critical'],
    ]);
    for (const s of summaries) {
      const report = await readReportJson<DriftReport>(s.report!.json!);
      expect(report.trigger).toBe('timer');
      expect(report.window!.hours).toBe(24);
      expect(report.rows.partitions).toBe(s.environment === 'production' ? 3 : 2);
      expect((await reportBlobs(s.report!.html!)).length).toBe(1);
    }
    // Staging was already alerted by the baseline event's check: the same ongoing state is not alerted again.
    expect(summaries[1].alert).toBe('suppressed');
    expect(hook.received).toHaveLength(1);
    expect(ctx.lines.join('\n')).toMatch(/drift staging: critical .*alert suppressed/);
  });

  it('does not re-alert on later runs of the same ongoing state, and says so in the report', async () => {
    const later = scheduledRequests(new Date(Date.now() + 3 * 60_000)).find((r) => r.env === 'staging')!;
    const report = await readRunReport(await runDriftInProcess(later));
    expect(report.status).toBe('critical');
    expect(report.alert).toMatchObject({ action: 'suppressed', previous_status: 'critical' });
    expect(report.alert.reason).toMatch(/same ongoing critical state/);
    expect(hook.received).toHaveLength(1);
    expect((await readAlertState('staging', MODEL, '1'))!.last_run_id).toBe(later.runId);
  });

  it('reports insufficient data, without an alert, when the window holds too few rows', async () => {
    const request: DriftRunRequest = {
      env: 'production',
      modelName: MODEL,
      modelVersion: '1',
      windowStart: new Date(H1.getTime() + 20 * 60_000).toISOString(), // about 20 minutes of the last hour: ~90 rows
      windowEnd: new Date(H1.getTime() + 25 * 60_000).toISOString(),
      windowHours: 1,
      trigger: 'timer',
      runId: 'small-window',
    };
    const report = await readRunReport(await runDriftInProcess(request));
    expect(report.rows.current).toBeGreaterThan(0);
    expect(report.rows.current).toBeLessThan(100);
    expect(report.status).toBe('insufficient_data');
    expect(report.score).toBeNull();
    expect(report.features.every((f) => f.status === 'insufficient_data')).toBe(true);
    expect(report.alert.action).toBe('not_needed');
    expect((await readAlertState('production', MODEL, '1'))?.status).toBe('healthy');
  });

  it('skips a run with no active baseline for the model', async () => {
    const restore = setAppEnv({ DRIFT_MODEL_NAME: 'other-model' });
    try {
      const [request] = scheduledRequests(new Date());
      const result = await runDriftInProcess(request);
      expect(result).toMatchObject({ status: 'skipped', reason: 'no baseline has been activated for other-model' });
    } finally {
      restore();
    }
  });

  it('writes the report at its documented path (driftReportPath), and no alert when the request says so', async () => {
    const [request] = scheduledRequests(new Date());
    const report = await readRunReport(await runDriftInProcess({ ...request, alert: false }));
    expect(report.paths.json).toBe(driftReportPath('production', new Date(request.windowEnd), request.runId, 'json'));
    expect(report.alert.action).toBe('disabled');
  });

  it('runs from the command line on the stored logs, with a progress line per partition', async () => {
    const out = path.join(os.tmpdir(), `drift-cli-env-${process.pid}.json`);
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [distPath('tools', 'cli', 'drift.js'), '--env', 'production', '--since', '24h', '--out', out],
      { env: { ...process.env, AzureWebJobsStorage: azurite.connectionString }, cwd: REPO_ROOT },
    );
    expect(stdout).toMatch(/^partition 1\/3: \d+ rows so far/m);
    expect(stdout).toMatch(/^partition 3\/3: 1400 rows so far/m);
    expect(stdout).toMatch(/^Drift HEALTHY score=0\.0000 env=production/m);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as DriftReport;
    expect(report).toMatchObject({ trigger: 'cli', status: 'healthy', alert: { action: 'disabled' } });
    expect(report.rows.current).toBe(1400);
    fs.rmSync(out, { force: true });
  });

  it('compares each environment with the version it served, not with a candidate activated since', async () => {
    // A staging candidate's baseline is activated after version 1's; production still serves version 1.
    const candidate = baselineBytes({ version: '2', seed: 5 });
    expect((await baselineEvent(candidate, blobContext(await uploadBaseline(candidate, '2')))).outcome).toBe('activated');
    const summaries = await driftTimer(timer, context());
    const production = await readReportJson<DriftReport>(summaries[0].report!.json!);
    expect(production).toMatchObject({
      environment: 'production',
      status: 'healthy',
      model: { version: '1' },
      rows: { current: 1400, other_model_versions: {} },
    });
    // Staging's newest hour served 300 rows of version 1 and 40 of version 2: it is still on version 1.
    const staging = await readReportJson<DriftReport>(summaries[1].report!.json!);
    expect(staging).toMatchObject({
      environment: 'staging',
      model: { version: '1' },
      rows: { current: 700, other_model_versions: { [`${MODEL} 2`]: 40 } },
    });
  });
});
