// Timer: the scheduled drift check of every environment (DRIFT_ENVIRONMENTS) against the active baseline, over the
// last DRIFT_WINDOW_HOURS of inference logs. The schedule is the app setting DRIFT_SCHEDULE (NCRONTAB, UTC; default
// daily at 06:00), read by the host through the %DRIFT_SCHEDULE% binding expression. The run id comes from the
// tick's minute, so a retried tick overwrites its report and cannot alert twice. With DRIFT_ORCHESTRATION=durable
// the check fans out over log partitions as a Durable orchestration; otherwise it runs here, in-process.
import { app, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { getConfig } from '../shared/config';
import { DriftRunRequest, DriftRunSummary, scheduledRequests, summarizeRun } from '../shared/drift/driftRun';
import { runDriftInProcess, startDriftOrchestration } from '../shared/drift/orchestration';

export async function driftTimer(timer: Timer, context: InvocationContext): Promise<DriftRunSummary[]> {
  if (timer.isPastDue) context.log('drift timer is past due; running now');
  const durable = getConfig().driftOrchestration === 'durable';
  const out: DriftRunSummary[] = [];
  for (const request of scheduledRequests(new Date())) {
    out.push(durable ? await startDriftOrchestration(df.getClient(context), request) : await runOne(request, context));
  }
  for (const s of out) {
    context.log(`drift ${s.environment}: ${s.status}${s.reason ? ` (${s.reason})` : ''}${s.report?.json ? ` report drift-reports/${s.report.json}` : ''}${s.alert ? `, alert ${s.alert}` : ''}`);
  }
  return out;
}

async function runOne(request: DriftRunRequest, context: InvocationContext): Promise<DriftRunSummary> {
  return summarizeRun(await runDriftInProcess(request, { logger: context }));
}

app.timer('driftTimer', {
  schedule: '%DRIFT_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: driftTimer,
});
