// Retraining as a Durable Functions orchestration, a thin deterministic generator over the activities:
//   gather (champion, feedback up to the cut-off) -> train the challenger -> compare both on the held-out newest
//   mail -> gate -> record the comparison in the challenger's card -> (winner) register -> start the promotion.
// A loser stays under challengers/ for inspection. A failure at registration undoes it, so no version is left half
// in models/ and baselines/. Whatever the outcome, the run's copy of the held-out mail is deleted before the record is
// written. Time only from context.df.currentUtcDateTime; the same generator runs under Durable and under
// shared/platform/workflow/inProcessRunner.ts.
import type { OrchestrationContext, Task } from 'durable-functions';
import { errorMessage } from '../../platform/errors';
import {
  compareActivity,
  deleteHoldoutActivity,
  gatherActivity,
  promoteActivity,
  recordActivity,
  recordChallengerActivity,
  registerActivity,
  trainActivity,
  unregisterActivity,
} from './activities';
import { decideGate } from './gate';
import { challengerVersion } from './version';
import { RetrainingInput, RetrainingRecord } from './types';

export const RETRAIN_ORCHESTRATOR = 'retrainOrchestrator';

export function* retrainOrchestrator(context: OrchestrationContext): Generator<Task, RetrainingRecord, unknown> {
  const df = context.df;
  const input = df.getInput<RetrainingInput>();
  const { settings } = input;
  const now = () => df.currentUtcDateTime;
  const record: RetrainingRecord = {
    runId: input.runId,
    model: input.model,
    cutoff: input.cutoff,
    trigger: input.trigger,
    requestedBy: input.requestedBy,
    requestedAt: input.requestedAt,
    finishedAt: '',
    outcome: 'failed',
    steps: [],
  };
  const step = (name: string, detail?: string) => {
    record.steps.push({ step: name, at: now().toISOString(), ...(detail ? { detail } : {}) });
    df.setCustomStatus({ step: name, ...(record.challenger ? { challenger: record.challenger } : {}), ...(detail ? { detail } : {}) });
    if (!df.isReplaying) context.log(`[retraining ${input.runId}] ${name}${detail ? `: ${detail}` : ''}`);
  };

  try {
    step('gather', `feedback received before ${input.cutoff}`);
    const gathered = yield* gatherActivity.call(context, { model: input.model, runId: input.runId, cutoff: input.cutoff });
    record.champion = gathered.champion;
    record.feedback = gathered.feedback;
    const version = challengerVersion(gathered.champion, new Date(input.cutoff));
    record.challenger = version;

    step('train', `challenger ${version} on the training period and ${gathered.feedback.messages} feedback messages`);
    const trained = yield* trainActivity.call(context, {
      runId: input.runId,
      model: input.model,
      version,
      cutoff: input.cutoff,
      holdoutFraction: settings.holdoutFraction,
    });
    record.challengerPrefix = trained.prefix;

    step('compare', `${gathered.champion} and ${version} on the ${trained.holdoutRows} newest labelled messages`);
    const comparison = yield* compareActivity.call(context, {
      model: input.model,
      champion: gathered.champion,
      challenger: version,
      holdoutPath: trained.holdoutPath,
    });
    record.comparison = comparison;
    const gate = decideGate(comparison, settings);
    record.gate = gate;
    yield* recordChallengerActivity.call(context, {
      model: input.model,
      version,
      runId: input.runId,
      cutoff: input.cutoff,
      comparison,
      gate,
    });
    step('gate', gate.reasons.join('; '));

    if (!gate.passed) {
      record.outcome = 'rejected';
    } else {
      step('register', version);
      try {
        record.registered = yield* registerActivity.call(context, { model: input.model, version, runId: input.runId });
      } catch (err) {
        yield* unregisterActivity.call(context, { model: input.model, version });
        throw err;
      }
      if (record.registered.alreadyRegistered) {
        throw new Error(`version ${version} is already registered; a retraining never replaces a registered version`);
      }
      record.outcome = 'registered';
      step('promote', settings.autoApprove ? 'auto-approved (RETRAIN_AUTO_APPROVE)' : 'awaiting approval');
      const promotion = yield* promoteActivity.call(context, { version, runId: input.runId, autoApprove: settings.autoApprove });
      record.promotionId = promotion.promotionId;
      record.outcome = 'promotion_started';
    }
  } catch (err) {
    record.outcome = 'failed';
    record.reason = `${record.steps.at(-1)?.step ?? 'start'}: ${errorMessage(err)}`;
    step('failed', record.reason);
  }
  try {
    yield* deleteHoldoutActivity.call(context, { model: input.model, runId: input.runId });
  } catch (err) {
    // The outcome stands; the next run's gather deletes what is left.
    step('delete held-out mail', `failed: ${errorMessage(err)}`);
  }
  record.finishedAt = now().toISOString();
  yield* recordActivity.call(context, record);
  df.setCustomStatus({ step: 'finished', outcome: record.outcome, ...(record.challenger ? { challenger: record.challenger } : {}) });
  return record;
}
