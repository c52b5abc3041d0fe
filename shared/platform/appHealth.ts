// The dependencies the app's health endpoints report on. `GET /api/health` (anonymous, for probes and load
// balancers) shows their states only; `GET /api/health/details` (admin key) adds what operators need and a
// stranger should not read: served versions, breaker state, logger counters, error messages naming internal hosts.
import { redisHealthCheck } from '../serving/featureStore/featureStore';
import { blobHealthCheck, HealthCheck, HealthReport, healthTimeoutMs, runHealthChecks } from './health';
import { kserveHealthCheck } from '../serving/kserve/kserveClient';
import { inferenceLoggerHealthCheck } from '../logs/inferenceLogger';
import { feedbackWriterHealthCheck } from '../feedback/feedbackWriter';

export function appHealthChecks(): Record<string, HealthCheck> {
  return {
    blob: blobHealthCheck,
    kserve_production: kserveHealthCheck('production'),
    kserve_staging: kserveHealthCheck('staging'),
    redis: redisHealthCheck,
    inference_logger: inferenceLoggerHealthCheck(),
    feedback_writer: feedbackWriterHealthCheck(),
  };
}

export function appHealthReport(): Promise<HealthReport> {
  return runHealthChecks(appHealthChecks(), healthTimeoutMs());
}

/**
 * How long anonymous callers share one report: the endpoint is open to anyone, and a flood of probes must not become
 * a flood of requests to Blob, KServe and Redis. A load balancer probing every few seconds still sees fresh states.
 */
export const SUMMARY_MAX_AGE_MS = 2000;

let shared: { at: number; report: Promise<HealthReport> } | undefined;

/** The report behind `/api/health`: run at most once per SUMMARY_MAX_AGE_MS, concurrent callers wait for the same run. */
export function sharedAppHealthReport(now = Date.now()): Promise<HealthReport> {
  if (!shared || now - shared.at >= SUMMARY_MAX_AGE_MS) {
    const entry = { at: now, report: appHealthReport() };
    // A failed run (a bad setting) is not kept: the next caller gets its own answer.
    entry.report.catch(() => {
      if (shared === entry) shared = undefined;
    });
    shared = entry;
  }
  return shared.report;
}

/** 503 when a required dependency is down (the app cannot serve), else 200. */
export function healthStatusCode(report: HealthReport): number {
  return report.status === 'down' ? 503 : 200;
}
