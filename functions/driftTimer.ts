// Timer: the scheduled drift check of every environment (DRIFT_ENVIRONMENTS) against the active baseline, over the
// last DRIFT_WINDOW_HOURS of inference logs. The schedule is the app setting DRIFT_SCHEDULE (NCRONTAB, UTC; default
// daily at 06:00), read by the host through the %DRIFT_SCHEDULE% binding expression. The run id and window end come
// from the tick's schedule slot (scheduleSlot), so a retried tick overwrites its report and cannot alert twice.
// Environments are checked independently: one that fails is reported as failed and the others still run; the
// invocation fails only when every environment failed. WORKFLOW_BACKEND=durable starts each check as a Durable
// orchestration (fanned out over log partitions); in-process it runs here.
import { app, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { DriftRunSummary } from '../shared/drift/driftRun';
import { scheduledRequests, scheduleSlot } from '../shared/drift/driftSchedule';
import { startDriftCheck } from '../shared/drift/driftRuns';
import { workflowBackend } from '../shared/platform/workflow/backend';
import { errorMessage } from '../shared/platform/errors';

export async function driftTimer(timer: Timer, context: InvocationContext): Promise<DriftRunSummary[]> {
  if (timer.isPastDue) context.log('drift timer is past due; running now');
  const backend = workflowBackend(context);
  const out: DriftRunSummary[] = [];
  for (const request of scheduledRequests(scheduleSlot(timer.scheduleStatus?.next, new Date()))) {
    try {
      out.push(await startDriftCheck(backend, request, context));
    } catch (err) {
      const reason = errorMessage(err);
      context.error(`drift ${request.env}: the check failed (run ${request.runId}): ${reason}`);
      out.push({ run_id: request.runId, environment: request.env, status: 'failed', reason });
    }
  }
  for (const s of out) {
    context.log(
      `drift ${s.environment}: ${s.status}${s.reason ? ` (${s.reason})` : ''}${s.report?.json ? ` report drift-reports/${s.report.json}` : ''}${s.alert ? `, alert ${s.alert}` : ''}`,
    );
  }
  if (out.length > 0 && out.every((s) => s.status === 'failed')) {
    throw new Error(`drift check failed in every environment: ${out.map((s) => `${s.environment}: ${s.reason}`).join('; ')}`);
  }
  return out;
}

app.timer('driftTimer', {
  schedule: '%DRIFT_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: driftTimer,
});
