// Health of the app's dependencies: the check contract each dependency module implements (a check never throws and
// never takes longer than its timeout), running them into a report, and the anonymous summary of a report. The
// app's list of checks and its two endpoints are in appHealth.ts.
import { CONTAINERS } from './blobLayout';
import { getContainerClient } from './blobStorage';
import { getConfig } from './config';
import { errorMessage } from './errors';

export type DependencyState = 'ok' | 'degraded' | 'down';

export interface CheckResult {
  status: DependencyState;
  detail?: string;
  /** Dependency-specific figures (model versions, breaker state, logger counters). */
  info?: Record<string, unknown>;
}

export interface DependencyStatus extends CheckResult {
  /** A required dependency that is down makes the app unable to serve (503). */
  required: boolean;
  latency_ms: number;
}

export interface HealthCheck {
  readonly required: boolean;
  run(): Promise<CheckResult>;
}

export interface HealthReport {
  status: DependencyState;
  time: string;
  dependencies: Record<string, DependencyStatus>;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export async function runHealthChecks(checks: Record<string, HealthCheck>, timeoutMs: number): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<[string, DependencyStatus]> => {
      const started = performance.now();
      let result: CheckResult;
      try {
        result = await withTimeout(check.run(), timeoutMs, name);
      } catch (err) {
        result = { status: 'down', detail: errorMessage(err) };
      }
      const latency_ms = Math.round((performance.now() - started) * 10) / 10;
      return [name, { ...result, required: check.required, latency_ms }];
    }),
  );
  const dependencies = Object.fromEntries(entries);
  const states = Object.values(dependencies);
  const status: DependencyState = states.some((d) => d.required && d.status === 'down')
    ? 'down'
    : states.some((d) => d.status !== 'ok')
      ? 'degraded'
      : 'ok';
  return { status, time: new Date().toISOString(), dependencies };
}

export interface HealthSummary {
  status: DependencyState;
  time: string;
  dependencies: Record<string, Pick<DependencyStatus, 'status' | 'required'>>;
}

/** The report without details or figures: what an anonymous caller may see. */
export function summarizeHealth(report: HealthReport): HealthSummary {
  const dependencies = Object.fromEntries(
    Object.entries(report.dependencies).map(([name, d]) => [name, { status: d.status, required: d.required }]),
  );
  return { status: report.status, time: report.time, dependencies };
}

/**
 * Not required: with Blob down the gateway still answers (models are in memory, the logger buffers and retries),
 * so a probe must not take the instance out of rotation; every instance shares the storage account, and a required
 * Blob would turn a storage outage into a full outage. The report says `degraded`.
 */
export const blobHealthCheck: HealthCheck = {
  required: false,
  async run() {
    // A container-level read works with the data-plane roles the managed identity has (no account-level rights).
    const exists = await getContainerClient(CONTAINERS.models).exists();
    return exists ? { status: 'ok' } : { status: 'degraded', detail: `container '${CONTAINERS.models}' does not exist yet` };
  },
};

export function healthTimeoutMs(): number {
  return Math.min(getConfig().blobTimeoutMs, 3000);
}
