import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../shared/platform/blobStorage';
import { alertOnDrift, alertPayload, readAlertState } from '../../../shared/drift/alerts';
import { DriftReport, DriftStatus } from '../../../shared/drift/report';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { captureLogger, handBuiltReport, startWebhookReceiver, WebhookReceiver } from '../../helpers/driftFixtures';
import { setAppEnv } from '../../helpers/env';
import { startLossyProxy } from '../../helpers/lossyProxy';
import { azuriteConnectionString } from '../../../tools/devhost/azurite';

let azurite: TestAzurite;
let restoreEnv: () => void;
let hook: WebhookReceiver;
let version = 0;

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({ AzureWebJobsStorage: azurite.connectionString, ALERT_WEBHOOK_URL: undefined });
  await ensureContainers([CONTAINERS.driftReports]);
  hook = await startWebhookReceiver();
});

afterAll(async () => {
  await hook.close();
  restoreEnv();
  await azurite.dispose();
});

beforeEach(() => {
  hook.received.length = 0;
  hook.respondWith(200);
  version++; // each test gets its own model version, hence its own alert state
});

function run(runId: string, status: DriftStatus, extra: Partial<DriftReport> = {}): DriftReport {
  return handBuiltReport({ run_id: runId, status, model: { name: 'spam-detector', version: `v${version}` }, ...extra });
}

describe('drift alerts', () => {
  it('alerts once for an ongoing state, again on a change of level, and says resolved when healthy again', async () => {
    const opts = { webhookUrl: hook.url, logger: captureLogger() };
    const first = await alertOnDrift(run('r1', 'critical'), opts);
    expect(first).toMatchObject({ action: 'sent', previous_status: null, webhook: true, alerted_run_id: 'r1' });
    expect(hook.received).toHaveLength(1);
    const payload = hook.received[0] as { text: string; status: string; drifted_features: { name: string }[] };
    expect(payload.status).toBe('critical');
    expect(payload.text).toMatch(/^\*CRITICAL\* drift in spam-detector v\d+ \(production\): 2 of 4 features drifted/);
    expect(payload.text).toContain('body_chars_log PSI 0.410');
    expect(payload.drifted_features.map((f) => f.name)).toEqual(['body_chars_log', 'url_count_log']);

    const second = await alertOnDrift(run('r2', 'critical'), opts);
    expect(second.action).toBe('suppressed');
    expect(second.reason).toMatch(/same ongoing critical state since .*alerted by run r1/);
    expect(hook.received).toHaveLength(1);

    expect((await alertOnDrift(run('r3', 'warning'), opts)).action).toBe('sent');
    expect(hook.received).toHaveLength(2);
    expect((hook.received[1] as { text: string }).text).toContain('(was critical)');

    const resolved = await alertOnDrift(run('r4', 'healthy'), opts);
    expect(resolved).toMatchObject({ action: 'resolved_sent', previous_status: 'warning' });
    expect((hook.received[2] as { kind: string; text: string }).kind).toBe('resolved');
    expect((hook.received[2] as { text: string }).text).toMatch(/^\*RESOLVED\*/);

    expect((await alertOnDrift(run('r5', 'healthy'), opts)).action).toBe('not_needed');
    expect(hook.received).toHaveLength(3);
    expect(await readAlertState('production', 'spam-detector', `v${version}`)).toMatchObject({ status: 'healthy', last_run_id: 'r5' });
  });

  it('a claim whose write landed but whose answer was lost is still sent, once', async () => {
    let armed = true;
    // The first write of the alert state reaches Azurite; the connection is cut before the answer. The SDK retries,
    // and the retry's If-Match/If-None-Match fails against what the first attempt wrote.
    const proxy = await startLossyProxy(`http://127.0.0.1:${azurite.port}`, (req) => {
      const drop = armed && req.method === 'PUT' && decodeURIComponent(req.url ?? '').includes(`/v${version}.json`);
      if (drop) armed = false;
      return drop;
    });
    // A short Blob deadline: the HTTP client leaves a failed request's deadline timer running, which would keep the
    // test worker alive for the default 5 s after the suite.
    const restore = setAppEnv({
      AzureWebJobsStorage: azuriteConnectionString(Number(new URL(proxy.origin).port)),
      BLOB_TIMEOUT_MS: '1000',
    });
    try {
      const outcome = await alertOnDrift(run('lost-answer', 'critical'), { webhookUrl: hook.url, logger: captureLogger() });
      expect(proxy.dropped).toHaveLength(1);
      expect(outcome).toMatchObject({ action: 'sent', alerted_run_id: 'lost-answer' });
      expect(hook.received).toHaveLength(1);
      // A redelivery of the same run finds the claim of another call: it was sent, nothing goes out again.
      expect((await alertOnDrift(run('lost-answer', 'critical'), { webhookUrl: hook.url, logger: captureLogger() })).action).toBe('sent');
      expect(hook.received).toHaveLength(1);
    } finally {
      restore();
      await proxy.close();
    }
  });

  it('a claim whose write timed out after landing is still sent, once', async () => {
    let armed = true;
    // The alert state's write reaches Azurite at once; its answer is held past BLOB_TIMEOUT_MS, so the app's Blob
    // client gives up on a write that has landed (an aborted request is not retried).
    const proxy = await startLossyProxy(`http://127.0.0.1:${azurite.port}`, (req) => {
      const hold = armed && req.method === 'PUT' && decodeURIComponent(req.url ?? '').includes(`/v${version}.json`);
      if (hold) armed = false;
      return hold ? { holdAnswerMs: 1500 } : 'pass';
    });
    const restore = setAppEnv({ AzureWebJobsStorage: azuriteConnectionString(Number(new URL(proxy.origin).port)), BLOB_TIMEOUT_MS: '300' });
    try {
      const outcome = await alertOnDrift(run('timed-out', 'critical'), { webhookUrl: hook.url, logger: captureLogger() });
      expect(armed).toBe(false);
      expect(outcome).toMatchObject({ action: 'sent', alerted_run_id: 'timed-out' });
      expect(hook.received).toHaveLength(1);
    } finally {
      restore();
      await proxy.close();
    }
  });

  it('does not alert twice for the same run (retried invocation, duplicate event)', async () => {
    const opts = { webhookUrl: hook.url, logger: captureLogger() };
    expect((await alertOnDrift(run('same', 'warning'), opts)).action).toBe('sent');
    const again = await alertOnDrift(run('same', 'warning'), opts);
    expect(again).toMatchObject({ action: 'sent', reason: expect.stringMatching(/already sent by this run/) });
    expect(hook.received).toHaveLength(1);
  });

  it('keeps the ongoing state through insufficient data', async () => {
    const opts = { webhookUrl: hook.url, logger: captureLogger() };
    await alertOnDrift(run('a', 'critical'), opts);
    const none = await alertOnDrift(run('b', 'insufficient_data', { score: null }), opts);
    expect(none).toMatchObject({ action: 'not_needed', previous_status: 'critical' });
    expect((await alertOnDrift(run('c', 'critical'), opts)).action).toBe('suppressed');
    expect(hook.received).toHaveLength(1);
  });

  it('reports a failed webhook and retries it on the next run', async () => {
    const opts = { webhookUrl: hook.url, logger: captureLogger() };
    hook.respondWith(500);
    const failed = await alertOnDrift(run('f1', 'critical'), opts);
    expect(failed.action).toBe('failed');
    expect(failed.reason).toMatch(/webhook answered 500: failure/);
    expect(opts.logger.lines.some((l) => l.includes('webhook failed'))).toBe(true);
    expect(await readAlertState('production', 'spam-detector', `v${version}`)).toBeUndefined();
    hook.respondWith(200);
    expect((await alertOnDrift(run('f2', 'critical'), opts)).action).toBe('sent');
    expect(hook.received).toHaveLength(1);
  });

  it('reports an unreachable webhook as failed, not as an error of the run', async () => {
    const opts = { webhookUrl: 'http://127.0.0.1:9/unreachable', timeoutMs: 2000, logger: captureLogger() };
    await alertOnDrift(run('u0', 'warning'), { webhookUrl: hook.url, logger: captureLogger() });
    const failed = await alertOnDrift(run('u1', 'critical'), opts);
    expect(failed.action).toBe('failed');
    // The previous (warning) state is back, so the next run alerts the change again.
    expect(await readAlertState('production', 'spam-detector', `v${version}`)).toMatchObject({ status: 'warning', alerted_run_id: 'u0' });
  });

  it('emits the structured log event even without a webhook', async () => {
    const logger = captureLogger();
    const outcome = await alertOnDrift(run('n1', 'warning'), { webhookUrl: '', logger });
    expect(outcome).toMatchObject({ action: 'sent', webhook: false, reason: expect.stringContaining('log event only') });
    const event = logger.lines.find((l) => l.startsWith('drift.alert '))!;
    expect(JSON.parse(event.slice('drift.alert '.length))).toMatchObject({
      event: 'drift.alert',
      status: 'warning',
      run_id: 'n1',
      webhook: false,
    });
  });

  it('lets exactly one of two concurrent runs alert', async () => {
    const opts = { webhookUrl: hook.url, logger: captureLogger() };
    const outcomes = await Promise.all([alertOnDrift(run('c1', 'critical'), opts), alertOnDrift(run('c2', 'critical'), opts)]);
    expect(outcomes.map((o) => o.action).sort()).toEqual(['sent', 'suppressed']);
    expect(hook.received).toHaveLength(1);
  });

  it('does not alert in file mode', async () => {
    const outcome = await alertOnDrift(run('file', 'critical', { environment: null, window: null }), { webhookUrl: hook.url });
    expect(outcome.action).toBe('disabled');
    expect(hook.received).toHaveLength(0);
  });

  it('builds a resolved payload that names the previous state', () => {
    const p = alertPayload(run('x', 'healthy'), 'resolved', 'critical');
    expect(p.text).toContain('is back to healthy (was critical)');
    expect(p.report.html).toBe('env=production/date=2026-11-26/run-1.html');
  });
});
