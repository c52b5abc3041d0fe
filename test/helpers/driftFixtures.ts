// Hand-built drift reports and a loopback webhook receiver for the report and alert tests.
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { DistributionDrift, DRIFT_REPORT_SCHEMA_VERSION, DriftReport, DriftStatus } from '../../shared/drift/report';

export function distribution(
  name: string,
  status: DriftStatus,
  psi: number | null,
  overrides: Partial<DistributionDrift> = {},
): DistributionDrift {
  return {
    name,
    psi,
    ks: {
      statistic: psi === null ? null : Math.min(1, psi),
      pvalue: psi === null ? null : 0.01,
      pvalue_adjusted: psi === null ? null : 0.02,
      method: 'exact',
    },
    status,
    significant: status === 'warning' || status === 'critical',
    rows: { current: 500, current_finite: 500, reference: 4000, reference_sample: 4000 },
    non_finite: { nan: 0, pos_inf: 0, neg_inf: 0 },
    reference_non_finite: { nan: 0, pos_inf: 0, neg_inf: 0 },
    bins: { edges: [0.1, 0.5, 2], reference: [0.2, 0.3, 0.4, 0.1], current: [0.1, 0.2, 0.4, 0.3], current_counts: [50, 100, 200, 150] },
    reference_stats: { mean: 0.8, std: 0.5, min: 0, max: 3 },
    current_stats: { mean: 1.1, std: 0.6, min: 0, max: 4 },
    ...overrides,
  };
}

export function handBuiltReport(overrides: Partial<DriftReport> = {}): DriftReport {
  const features = [
    distribution('body_chars_log', 'critical', 0.41),
    distribution('url_count_log', 'warning', 0.13),
    distribution('subject_chars_log', 'healthy', 0.02),
    distribution('html_present', 'healthy', 0.004, { non_finite: { nan: 3, pos_inf: 1, neg_inf: 0 } }),
  ];
  return {
    schema_version: DRIFT_REPORT_SCHEMA_VERSION,
    kind: 'drift',
    run_id: 'run-1',
    created_at: '2026-11-26T06:00:00.000Z',
    trigger: 'timer',
    status: 'critical',
    score: 0.135,
    environment: 'production',
    window: { start: '2026-11-25T06:00:00.000Z', end: '2026-11-26T06:00:00.000Z', hours: 24 },
    rows: { current: 500, reference: 4000, other_model_versions: {}, partitions: 3 },
    model: { name: 'spam-detector', version: '1' },
    baseline: {
      source: 'baselines/spam-detector/1/baseline.json',
      sha256: 'ab'.repeat(32),
      created_at: '2026-11-20T00:00:00.000Z',
      activated_at: '2026-11-20T00:01:00.000Z',
      reference_rows: 4000,
      sample_size: 4000,
    },
    current_source: 'logs',
    code_version: { version: '0.1.0', commit: null },
    thresholds: { psi_warning: 0.1, psi_critical: 0.2, alpha: 0.05, min_rows: 100, critical_feature_share: 0.1 },
    summary: { features: 4, healthy: 2, warning: 1, critical: 1, insufficient_data: 0, drifted: ['body_chars_log', 'url_count_log'] },
    prediction: distribution('probability', 'warning', 0.15),
    features,
    alert: {
      action: 'not_needed',
      reason: 'not decided yet',
      previous_status: null,
      webhook: false,
      alerted_run_id: null,
      alerted_at: null,
    },
    paths: { json: 'env=production/date=2026-11-26/run-1.json', html: 'env=production/date=2026-11-26/run-1.html' },
    ...overrides,
  };
}

export interface WebhookReceiver {
  url: string;
  received: unknown[];
  /** Status the next requests get (default 200). */
  respondWith(status: number): void;
  close(): Promise<void>;
}

/** A real HTTP server on a free loopback port that records the JSON bodies POSTed to it. */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: unknown[] = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (status === 200) received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'failure');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    respondWith(s) {
      status = s;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** A logger that keeps what it is given (the structured alert event is a log line). */
export function captureLogger() {
  const lines: string[] = [];
  const push = (...args: unknown[]) => lines.push(args.map(String).join(' '));
  return { lines, log: push, warn: push, error: push };
}
