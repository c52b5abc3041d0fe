// Drift alerts: on a warning or critical run, POST a JSON payload to the configured webhook (its `text` field is
// what Slack and Teams incoming webhooks display) and emit a structured log event (`drift.alert`, picked up by
// Application Insights as a trace). An ongoing state is alerted once: the last alerted state per environment and
// model version is kept in Blob, and a run in the same state is reported as suppressed. A change of level (warning
// to critical and back) alerts again; the return to healthy sends a "resolved" message.
//
// Order of operations, so that concurrent runs cannot both alert and a failed POST is retried: claim the new state
// with a conditional write (the loser of a race sees the winner's state and is suppressed), then POST; when the POST
// fails, put the previous state back so that the next run tries again.
import { CONTAINERS, driftAlertStatePath, isEnvironment } from '../platform/blobLayout';
import { getConfig } from '../platform/config';
import { AlertOutcome, DriftReport, DriftStatus } from './report';
import { randomUUID } from 'node:crypto';
import { BlobConflictError, conditionalWrite, readJsonBlob, StoredJson, writeJsonBlob } from '../platform/blobStorage';
import { deleteJsonBlobIfUnchanged } from './stateStore';

/** The ongoing alert state of an environment and model version. */
export interface AlertState {
  status: DriftStatus;
  /** When this status began (the first run that saw it). */
  since: string;
  alerted_run_id: string | null;
  alerted_at: string | null;
  last_run_id: string;
  updated_at: string;
  /** Random per alerting call: tells that call its own write apart from another delivery's of the same run. */
  claim?: string;
}

/** Anything with log/warn/error: an InvocationContext or the console. */
export interface DriftLogger {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface AlertOptions {
  /** Defaults to ALERT_WEBHOOK_URL. */
  webhookUrl?: string;
  timeoutMs?: number;
  logger?: DriftLogger;
  /** Time of the decision (defaults to the report's created_at, so that a replayed run decides the same). */
  now?: Date;
}

export interface AlertPayload {
  text: string;
  kind: 'drift' | 'resolved';
  status: DriftStatus;
  previous_status: DriftStatus | null;
  environment: string;
  model: { name: string; version: string };
  score: number | null;
  run_id: string;
  window: DriftReport['window'];
  rows: number;
  drifted_features: Array<{
    name: string;
    status: DriftStatus;
    psi: number | null;
    ks_statistic: number | null;
    pvalue_adjusted: number | null;
  }>;
  prediction: { status: DriftStatus; psi: number | null } | null;
  report: DriftReport['paths'];
}

const ALERTING: readonly DriftStatus[] = ['warning', 'critical'];

function fmt(v: number | null): string {
  return v === null ? '-' : v.toFixed(3);
}

/** The payload of an alert; `text` is a one-paragraph message for chat (Slack/Teams render `*bold*`). */
export function alertPayload(report: DriftReport, kind: 'drift' | 'resolved', previous: DriftStatus | null): AlertPayload {
  const byName = new Map(report.features.map((f) => [f.name, f]));
  const drifted = report.summary.drifted.map((name) => byName.get(name)!).filter(Boolean);
  const where = `${report.model.name} ${report.model.version} (${report.environment})`;
  const link = report.paths.html ? ` Report: drift-reports/${report.paths.html}` : '';
  let text: string;
  if (kind === 'resolved') {
    text = `*RESOLVED* Drift in ${where} is back to healthy (was ${previous}); score ${fmt(report.score)} over ${report.rows.current} rows.${link}`;
  } else {
    const top = drifted
      .slice(0, 5)
      .map((f) => `${f.name} PSI ${fmt(f.psi)}`)
      .join(', ');
    const change = previous && previous !== 'healthy' ? ` (was ${previous})` : '';
    text =
      `*${report.status.toUpperCase()}* drift in ${where}${change}: ${drifted.length} of ${report.features.length} features drifted, ` +
      `score ${fmt(report.score)}${report.prediction ? `, prediction ${report.prediction.status} (PSI ${fmt(report.prediction.psi)})` : ''}, ${report.rows.current} rows` +
      `${report.window ? ` from ${report.window.start} to ${report.window.end}` : ''}.${top ? ` Most drifted: ${top}.` : ''}${link}`;
  }
  return {
    text,
    kind,
    status: report.status,
    previous_status: previous,
    environment: report.environment ?? '',
    model: report.model,
    score: report.score,
    run_id: report.run_id,
    window: report.window,
    rows: report.rows.current,
    drifted_features: drifted.map((f) => ({
      name: f.name,
      status: f.status,
      psi: f.psi,
      ks_statistic: f.ks.statistic,
      pvalue_adjusted: f.ks.pvalue_adjusted,
    })),
    prediction: report.prediction ? { status: report.prediction.status, psi: report.prediction.psi } : null,
    report: report.paths,
  };
}

/** POST the payload; throws with the status or network error when the webhook does not accept it. */
export async function postWebhook(url: string, payload: AlertPayload, timeoutMs: number): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payload),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!res.ok) {
    const body = (await res.text().catch(() => '')).slice(0, 200);
    throw new Error(`webhook answered ${res.status}${body ? `: ${body}` : ''}`);
  }
  await res.arrayBuffer().catch(() => undefined);
}

/**
 * Decide, record and deliver the alert for a finished run. Never throws for a webhook problem (the outcome says
 * 'failed' and the next run retries); Blob errors do throw, since the state could not be kept.
 */
export async function alertOnDrift(report: DriftReport, options: AlertOptions = {}): Promise<AlertOutcome> {
  const config = getConfig();
  const webhookUrl = options.webhookUrl ?? config.alertWebhookUrl;
  const timeoutMs = options.timeoutMs ?? config.alertWebhookTimeoutMs;
  const logger = options.logger ?? console;
  const now = (options.now ?? new Date(report.created_at)).toISOString();
  const outcome = (
    action: AlertOutcome['action'],
    reason: string,
    previous: DriftStatus | null,
    state?: AlertState | null,
  ): AlertOutcome => ({
    action,
    reason,
    previous_status: previous,
    webhook: Boolean(webhookUrl),
    alerted_run_id: state?.alerted_run_id ?? null,
    alerted_at: state?.alerted_at ?? null,
  });

  if (!report.environment || !isEnvironment(report.environment)) {
    return outcome('disabled', 'no environment (file comparison): alerts are for stored logs only', null);
  }
  const statePath = driftAlertStatePath(report.environment, report.model.name, report.model.version);
  const container = CONTAINERS.driftReports;

  const claim = randomUUID();
  for (let attempt = 0; ; attempt++) {
    const stored: StoredJson<AlertState> | undefined = await readJsonBlob<AlertState>(container, statePath);
    const prev = stored?.value ?? null;
    const prevStatus = prev?.status ?? null;

    if (report.status === 'insufficient_data') {
      return outcome('not_needed', 'insufficient data: no verdict, the ongoing state is kept', prevStatus, prev);
    }
    // A retried or redelivered run that already alerted must not alert twice.
    if (prev && prev.alerted_run_id === report.run_id && prev.status === report.status) {
      return outcome(
        ALERTING.includes(report.status) ? 'sent' : 'resolved_sent',
        'already sent by this run (retry or duplicate event)',
        prevStatus,
        prev,
      );
    }
    if (prev && prev.status === report.status) {
      const reason = ALERTING.includes(report.status)
        ? `same ongoing ${report.status} state since ${prev.since}${prev.alerted_run_id ? `, alerted by run ${prev.alerted_run_id}` : ''}`
        : 'healthy';
      const action = ALERTING.includes(report.status) ? 'suppressed' : 'not_needed';
      try {
        await writeJsonBlob(container, statePath, { ...prev, last_run_id: report.run_id, updated_at: now }, stored!.etag);
      } catch (err) {
        if (!(err instanceof BlobConflictError) || attempt >= 3) throw err;
        continue;
      }
      return outcome(action, reason, prevStatus, prev);
    }

    const send = ALERTING.includes(report.status) || (prevStatus !== null && ALERTING.includes(prevStatus));
    const next: AlertState = {
      status: report.status,
      since: now,
      alerted_run_id: send ? report.run_id : null,
      alerted_at: send ? now : null,
      last_run_id: report.run_id,
      updated_at: now,
      claim,
    };
    const write = await conditionalWrite<AlertState>({
      container,
      blob: statePath,
      value: next,
      condition: stored ? { ifMatch: stored.etag } : { ifNoneMatch: '*' },
      isOurs: (state) => state.claim === claim,
    });
    // Stored as ours, even when its answer was lost or late: send. Refused: another run's state stands; decide again
    // on it. Unknown (the claim may still land, or the re-read failed): the run fails; if the claim had landed, a
    // retry takes it for this run's and sends nothing (at most once when Blob fails twice in a row).
    if (write.outcome === 'written') return deliver(next, write.etag, prev);
    if (write.outcome === 'unknown' || attempt >= 3) throw write.error;
  }

  /** Send what `next` (written, with ETag `etag`, over `prev`) claims; give the claim back when the webhook fails. */
  async function deliver(next: AlertState, etag: string, prev: AlertState | null): Promise<AlertOutcome> {
    const prevStatus = prev?.status ?? null;
    const alerting = ALERTING.includes(report.status);
    const resolving = !alerting && prevStatus !== null && ALERTING.includes(prevStatus);
    if (!alerting && !resolving) return outcome('not_needed', 'healthy', prevStatus, next);

    const payload = alertPayload(report, resolving ? 'resolved' : 'drift', prevStatus);
    // The structured event goes out whether or not a webhook is configured: it is the telemetry record of the alert.
    logger.warn(`drift.alert ${JSON.stringify({ event: 'drift.alert', ...payload, webhook: Boolean(webhookUrl) })}`);
    if (webhookUrl) {
      try {
        await postWebhook(webhookUrl, payload, timeoutMs);
      } catch (err) {
        const message = (err as Error).message;
        logger.error(`drift.alert webhook failed for run ${report.run_id}: ${message}`);
        // Give the state back so the next run alerts again; if someone moved on meanwhile, theirs stands.
        try {
          if (prev) await writeJsonBlob(container, statePath, prev, etag);
          else await deleteJsonBlobIfUnchanged(container, statePath, etag);
        } catch (restoreErr) {
          if (!(restoreErr instanceof BlobConflictError)) throw restoreErr;
        }
        return outcome('failed', `webhook POST failed (${message}); the next run retries`, prevStatus, prev);
      }
    }
    const via = webhookUrl ? 'webhook and log event' : 'log event only (ALERT_WEBHOOK_URL is not set)';
    return outcome(
      resolving ? 'resolved_sent' : 'sent',
      resolving
        ? `back to healthy from ${prevStatus}: resolved message sent (${via})`
        : `${prevStatus ?? 'no previous state'} → ${report.status}: alert sent (${via})`,
      prevStatus,
      next,
    );
  }
}

/** The stored alert state (tests and the docs' troubleshooting section). */
export async function readAlertState(env: string, model: string, version: string): Promise<AlertState | undefined> {
  if (!isEnvironment(env)) return undefined;
  return (await readJsonBlob<AlertState>(CONTAINERS.driftReports, driftAlertStatePath(env, model, version)))?.value;
}
