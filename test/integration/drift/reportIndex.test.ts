// The index of drift reports on a private Azurite: two real drift runs finishing at once both land in index.json,
// index.html links both reports, GET /api/drift/reports answers with them; runs racing on the index lose no entry,
// and an index that cannot be written leaves the run's own result alone.
import { HttpRequest, InvocationContext } from '@azure/functions';
import { driftReports } from '../../../functions/driftReports';
import { baselinePath, CONTAINERS, DRIFT_REPORT_INDEX_HTML, DRIFT_REPORT_INDEX_JSON } from '../../../shared/platform/blobLayout';
import { downloadBuffer, ensureContainers, getContainerClient, readJsonBlob, writeJsonBlob } from '../../../shared/platform/blobStorage';
import { activateBaselineUpload } from '../../../shared/drift/activeBaseline';
import { DriftRunRequest } from '../../../shared/drift/driftRun';
import { readRunReport, runDriftInProcess } from '../../../shared/drift/orchestration';
import { DriftIndex, updateDriftIndex } from '../../../shared/drift/reportIndex';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { Environment } from '../../../shared/platform/blobLayout';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { captureLogger, handBuiltReport } from '../../helpers/driftFixtures';
import { baselineBytes, compactHour, logRecords, MODEL, records } from '../../helpers/driftLogs';
import { setAppEnv } from '../../helpers/env';

let azurite: TestAzurite;
let restoreEnv: () => void;
const HOUR = 3600_000;
const NOW = new Date(Math.floor(Date.now() / HOUR) * HOUR);
const H2 = new Date(NOW.getTime() - 2 * HOUR);
const H1 = new Date(NOW.getTime() - 1 * HOUR);

function request(env: Environment, runId: string): DriftRunRequest {
  return { env, modelName: MODEL, modelVersion: '1', windowEnd: NOW.toISOString(), windowHours: 24, trigger: 'timer', runId, alert: false };
}

async function get(query = ''): Promise<{ status: number; body: any }> {
  const res = await driftReports(
    new HttpRequest({ url: `http://127.0.0.1/api/drift/reports${query}`, method: 'GET' }),
    new InvocationContext({ functionName: 'driftReports' }),
  );
  return { status: res.status ?? 200, body: res.jsonBody };
}

const readIndex = async () => (await readJsonBlob<DriftIndex>(CONTAINERS.driftReports, DRIFT_REPORT_INDEX_JSON))!.value;

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    DRIFT_ENVIRONMENTS: 'production,staging',
    DRIFT_MIN_ROWS: '100',
    WORKFLOW_BACKEND: 'in-process',
    COMPACTION_ROW_GROUP_ROWS: '1000',
    ALERT_WEBHOOK_URL: undefined,
  });
  await ensureContainers(Object.values(CONTAINERS));
  await activateBaselineUpload(baselinePath(MODEL, '1'), baselineBytes(), new Date(NOW.getTime() - 7 * 24 * HOUR));
  await logRecords([
    ...records({ env: 'production', hour: H2, count: 400, seed: 11 }),
    ...records({ env: 'production', hour: H1, count: 300, seed: 12 }),
    ...records({ env: 'staging', hour: H2, count: 400, seed: 21, shift: 1.6 }),
    ...records({ env: 'staging', hour: H1, count: 300, seed: 22, shift: 1.6 }),
  ]);
  expect(await compactHour('production', H2)).toBe(400);
}, 120_000);

afterAll(async () => {
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
});

test('two drift runs finishing together are both in index.json, index.html and the route', async () => {
  const summaries = await Promise.all([
    runDriftInProcess(request('production', 'drift-production-index')),
    runDriftInProcess(request('staging', 'drift-staging-index')),
  ]);
  expect(summaries.map((s) => s.status)).toEqual(['healthy', 'critical']);
  const reports = await Promise.all(summaries.map(readRunReport));

  const index = await readIndex();
  expect(index.runs.map((r) => [r.env, r.run_id, r.status]).sort()).toEqual([
    ['production', 'drift-production-index', 'healthy'],
    ['staging', 'drift-staging-index', 'critical'],
  ]);
  for (const report of reports) {
    expect(index.runs.find((r) => r.run_id === report.run_id)).toMatchObject({
      window_start: report.window!.start,
      window_end: report.window!.end,
      score: report.score,
      model: { name: MODEL, version: '1' },
      paths: report.paths,
    });
  }

  const html = (await downloadBuffer(CONTAINERS.driftReports, DRIFT_REPORT_INDEX_HTML))!.toString('utf8');
  const props = await getContainerClient(CONTAINERS.driftReports).getBlobClient(DRIFT_REPORT_INDEX_HTML).getProperties();
  expect(props.contentType).toBe('text/html; charset=utf-8');
  expect(html.match(/class="score-chart"/g)).toHaveLength(2);
  for (const report of reports) {
    expect(html).toContain(`href="${report.paths.html!}"`);
    // The relative link resolves, from the container's root, to the stored page.
    expect(await downloadBuffer(CONTAINERS.driftReports, report.paths.html!)).toBeDefined();
  }

  const all = await get();
  expect(all.status).toBe(200);
  expect(all.body).toEqual(index);
  const staging = await get('?env=staging');
  expect(staging.status).toBe(200);
  expect(staging.body.runs.map((r: { run_id: string }) => r.run_id)).toEqual(['drift-staging-index']);
  const unknown = await get('?env=qa%3Cx%3E');
  expect(unknown.status).toBe(400);
  expect(unknown.body.error).toMatchObject({ code: 'invalid_env' });
  expect(unknown.body.error.message).toMatch(/env must be one of production, staging/);
}, 180_000);

test('runs racing on the index lose no entry', async () => {
  const before = (await readIndex()).runs.length;
  const ids = Array.from({ length: 6 }, (_, i) => `race-${i}`);
  await Promise.all(
    ids.map((id, i) =>
      updateDriftIndex(
        handBuiltReport({
          run_id: id,
          window: { start: '2026-11-25T06:00:00.000Z', end: new Date(Date.UTC(2026, 10, 26, i)).toISOString(), hours: 24 },
          paths: { json: `env=production/date=2026-11-26/${id}.json`, html: `env=production/date=2026-11-26/${id}.html` },
        }),
      ),
    ),
  );
  const index = await readIndex();
  expect(index.runs).toHaveLength(before + ids.length);
  const html = (await downloadBuffer(CONTAINERS.driftReports, DRIFT_REPORT_INDEX_HTML))!.toString('utf8');
  // The page was rendered after the last write: it shows every run.
  for (const id of ids) expect(html).toContain(`>${id}</a>`);
  expect(html.match(/<tbody>[\s\S]*<\/tbody>/)![0].match(/<tr>/g)).toHaveLength(before + ids.length);
}, 60_000);

test('a damaged index.json is started over', async () => {
  await writeJsonBlob(CONTAINERS.driftReports, DRIFT_REPORT_INDEX_JSON, '{ not json');
  await updateDriftIndex(handBuiltReport({ run_id: 'after-damage' }));
  expect((await readIndex()).runs.map((r) => r.run_id)).toEqual(['after-damage']);
});

test('an index that cannot be written leaves the run finished, with a warning', async () => {
  // Another holder's lease refuses every write of ours (412), as long as it lasts.
  const lease = getContainerClient(CONTAINERS.driftReports).getBlobClient(DRIFT_REPORT_INDEX_JSON).getBlobLeaseClient();
  await lease.acquireLease(-1);
  try {
    const logger = captureLogger();
    const summary = await runDriftInProcess(request('production', 'drift-production-no-index'), { logger });
    expect(summary.status).toBe('healthy');
    expect(await readRunReport(summary)).toMatchObject({ run_id: 'drift-production-no-index' });
    expect(logger.lines.join('\n')).toMatch(
      /drift run drift-production-no-index: the index of reports was not updated: .*changed by another run/,
    );
    expect((await readIndex()).runs.map((r) => r.run_id)).not.toContain('drift-production-no-index');
  } finally {
    await lease.releaseLease();
  }
}, 60_000);
