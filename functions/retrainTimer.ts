// Timer: a scheduled retraining (RETRAIN_SCHEDULE, NCRONTAB, UTC, read by the host through %RETRAIN_SCHEDULE%).
// Off unless RETRAIN_TIMER_ENABLED: a timer binding needs a valid schedule in every host, so "no timer" is a tick
// that does nothing rather than a schedule left empty. The cut-off is the tick's schedule slot, so a retried tick
// trains on the same data; a retraining still running makes the tick a no-op.
import { app, InvocationContext, Timer } from '@azure/functions';
import * as df from 'durable-functions';
import { getConfig } from '../shared/platform/config';
import { compactTime } from '../shared/platform/blobLayout';
import { ConflictError } from '../shared/platform/errors';
import { scheduleSlot } from '../shared/drift/driftSchedule';
import { retrainingBackend, startRetraining } from '../shared/lifecycle/retraining/service';

export async function retrainTimer(timer: Timer, context: InvocationContext): Promise<{ started?: string; skipped?: string }> {
  if (!getConfig().retrainTimerEnabled) return { skipped: 'RETRAIN_TIMER_ENABLED is false' };
  const slot = scheduleSlot(timer.scheduleStatus?.next, new Date());
  try {
    const input = await startRetraining(retrainingBackend(context), {
      trigger: 'timer',
      requestedBy: 'retrainTimer',
      cutoff: slot,
      runId: `retrain-timer-${compactTime(slot)}`,
    });
    context.log(`retraining ${input.runId} started (feedback before ${input.cutoff})`);
    return { started: input.runId };
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    context.warn(`retraining not started: ${err.message}`);
    return { skipped: err.message };
  }
}

app.timer('retrainTimer', {
  schedule: '%RETRAIN_SCHEDULE%',
  extraInputs: [df.input.durableClient()],
  handler: retrainTimer,
});
