// The dependencies the app's health endpoints report on. `GET /api/health` (anonymous, for probes and load
// balancers) shows their states only; `GET /api/health/details` (function key) adds what operators need and a
// stranger should not read: served versions, breaker state, logger counters, error messages naming internal hosts.
import { redisHealthCheck } from './featureStore';
import { blobHealthCheck, HealthCheck, HealthReport, healthTimeoutMs, runHealthChecks } from './health';
import { kserveHealthCheck } from './kserveClient';
import { inferenceLoggerHealthCheck } from './logs/inferenceLogger';

export function appHealthChecks(): Record<string, HealthCheck> {
  return {
    blob: blobHealthCheck,
    kserve_production: kserveHealthCheck('production'),
    kserve_staging: kserveHealthCheck('staging'),
    redis: redisHealthCheck,
    inference_logger: inferenceLoggerHealthCheck(),
  };
}

export function appHealthReport(): Promise<HealthReport> {
  return runHealthChecks(appHealthChecks(), healthTimeoutMs());
}

/** 503 when a required dependency is down (the app cannot serve), else 200. */
export function healthStatusCode(report: HealthReport): number {
  return report.status === 'down' ? 503 : 200;
}
