// Scheduled checks: which environments a check covers (DRIFT_ENVIRONMENTS, also after a baseline activation), the
// window a timer tick checks, and the schedule slot and run id that make a retried tick overwrite its own run
// instead of starting a second one.
import { compactTime, Environment, isEnvironment } from '../platform/blobLayout';
import { getConfig } from '../platform/config';
import { DriftRunRequest } from './driftRun';

export function driftEnvironments(): Environment[] {
  const list = getConfig()
    .driftEnvironments.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((e) => !isEnvironment(e));
  if (bad.length) throw new RangeError(`DRIFT_ENVIRONMENTS names unknown environments: ${bad.join(', ')}`);
  return list as Environment[];
}

/**
 * The schedule slot a timer invocation belongs to: the time the tick was scheduled for, the same on every retry of
 * that tick. In Azure the host passes it as `scheduleStatus.next` while the tick runs (it names the occurrence being
 * invoked, not the one after: azure-functions-dotnet-worker#954), a past-due tick included. Where that is missing
 * or lies ahead (the local host passes the following tick), the slot is the current minute.
 */
export function scheduleSlot(scheduledNext: string | undefined, now: Date): Date {
  const scheduled = scheduledNext ? new Date(scheduledNext) : undefined;
  if (scheduled && Number.isFinite(scheduled.getTime()) && scheduled.getTime() <= now.getTime()) return scheduled;
  return new Date(Math.floor(now.getTime() / 60000) * 60000);
}

/** `timer-20261126T060000Z-production`: one run per schedule slot and environment, so a retried tick overwrites its
 * own report and the alert state sees the same run id. */
export function scheduledRunId(env: Environment, slot: Date): string {
  const minute = new Date(Math.floor(slot.getTime() / 60000) * 60000);
  return `timer-${compactTime(minute)}-${env}`;
}

/** The scheduled checks of a slot (see scheduleSlot): one per environment, over the window ending at the slot. */
export function scheduledRequests(slot: Date): DriftRunRequest[] {
  const c = getConfig();
  const end = new Date(Math.floor(slot.getTime() / 60000) * 60000).toISOString();
  return driftEnvironments().map((env) => ({
    env,
    modelName: c.driftModelName,
    windowEnd: end,
    windowHours: c.driftWindowHours,
    trigger: 'timer' as const,
    runId: scheduledRunId(env, slot),
  }));
}
