// The promotion as a Durable Functions orchestration: a thin, deterministic generator over the activities.
//   check artifacts -> deploy staging -> wait Ready -> smoke evaluation through the gateway -> approval (or timeout)
//   -> deploy production -> wait Ready -> record.  Any failure, a rejection or a timeout rolls back what changed,
//   newest first, and the record says why.
// Deterministic: time only from context.df.currentUtcDateTime, no randomness, no I/O outside activities, logs
// only when not replaying. The same generator runs under the Durable runtime and, with WORKFLOW_BACKEND=in-process,
// under shared/platform/workflow/inProcessRunner.ts.
import type { OrchestrationContext, Task, TimerTask } from 'durable-functions';
import type { Environment } from '../../platform/blobLayout';
import {
  checkArtifactsActivity,
  deployActivity,
  readStatusActivity,
  recordActivity,
  rollbackActivity,
  smokeEvaluationActivity,
} from './activities';
import { APPROVAL_EVENT, ApprovalDecision, PromotionInput, PromotionOutcome, PromotionRecord } from './types';
import { errorMessage } from '../../platform/errors';

export const PROMOTION_ORCHESTRATOR = 'promotionOrchestrator';

/** A failure that ends the promotion with a rollback; `step` names where. */
class PromotionStopped extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly outcome: PromotionOutcome = 'rolled_back',
  ) {
    super(message);
  }
}

export function* promotionOrchestrator(context: OrchestrationContext): Generator<Task, PromotionRecord, unknown> {
  const df = context.df;
  const input = df.getInput<PromotionInput>();
  const { settings } = input;
  const now = () => df.currentUtcDateTime;
  const log = (message: string) => {
    if (!df.isReplaying) context.log(`[promotion ${input.promotionId}] ${message}`);
  };

  const record: PromotionRecord = {
    promotionId: input.promotionId,
    model: input.model,
    version: input.version,
    outcome: 'rolled_back',
    requestedBy: input.requestedBy,
    requestedAt: input.requestedAt,
    finishedAt: '',
    deployments: [],
    rollbacks: [],
    steps: [],
  };
  const step = (name: string, detail?: string) => {
    record.steps.push({ step: name, at: now().toISOString(), ...(detail ? { detail } : {}) });
    df.setCustomStatus({ step: name, version: input.version, ...(detail ? { detail } : {}) });
    log(detail ? `${name}: ${detail}` : name);
  };

  function* deployAndWait(env: Environment, storageUri: string): Generator<Task, void, unknown> {
    step(`deploy ${env}`);
    const deployment = yield* deployActivity.call(context, { env, version: input.version, storageUri });
    record.deployments.push(deployment);
    step(
      `wait ${env} ready`,
      deployment.changed ? `from ${deployment.previousModelVersion ?? deployment.previousStorageUri ?? 'nothing'}` : 'already serving it',
    );
    const deadline = new Date(now().getTime() + settings.readyTimeoutS * 1000);
    for (;;) {
      const readiness = yield* readStatusActivity.call(context, { env, storageUri });
      if (readiness.verdict === 'ready') return;
      if (readiness.verdict === 'failed') throw new PromotionStopped(`wait ${env} ready`, `${env} failed: ${readiness.detail}`);
      if (now() >= deadline)
        throw new PromotionStopped(`wait ${env} ready`, `${env} not Ready after ${settings.readyTimeoutS} s: ${readiness.detail}`);
      yield df.createTimer(new Date(Math.min(deadline.getTime(), now().getTime() + settings.readyPollMs)));
    }
  }

  try {
    step('check artifacts');
    const artifacts = yield* checkArtifactsActivity.call(context, { model: input.model, version: input.version });

    yield* deployAndWait('staging', artifacts.storageUri);

    step('smoke evaluation', `${settings.smokeSamples} held-out messages through the gateway (staging)`);
    const smoke = yield* smokeEvaluationActivity.call(context, {
      version: input.version,
      reference: { accuracy: artifacts.card.accuracy, rocAuc: artifacts.card.rocAuc, metricsKey: artifacts.card.metricsKey },
      samples: settings.smokeSamples,
      margins: { accuracy: settings.accuracyMargin, auc: settings.aucMargin },
    });
    record.smoke = smoke;
    if (!smoke.passed) throw new PromotionStopped('smoke evaluation', smoke.failures.join('; '));

    let decision: ApprovalDecision;
    if (input.autoApprove) {
      decision = { approved: true, by: input.requestedBy, at: now().toISOString(), automatic: true };
    } else {
      const deadline = new Date(now().getTime() + settings.approvalTimeoutS * 1000);
      step('awaiting approval', `until ${deadline.toISOString()}`);
      const approval = df.waitForExternalEvent(APPROVAL_EVENT);
      const timeout: TimerTask = df.createTimer(deadline);
      const winner = yield df.Task.any([approval, timeout]);
      if (winner !== approval) throw new PromotionStopped('awaiting approval', `no decision within ${settings.approvalTimeoutS} s`);
      timeout.cancel();
      decision = approval.result as ApprovalDecision;
    }
    record.approval = decision;
    if (!decision.approved) {
      throw new PromotionStopped(
        'awaiting approval',
        `rejected by ${decision.by}${decision.comment ? `: ${decision.comment}` : ''}`,
        'rejected',
      );
    }
    step('approved', `by ${decision.by}${decision.automatic ? ' (automatic: approved when it was started)' : ''}`);

    yield* deployAndWait('production', artifacts.storageUri);
    record.outcome = 'promoted';
    step('promoted');
  } catch (err) {
    const stopped = err instanceof PromotionStopped ? err : undefined;
    const failedStep = stopped?.step ?? record.steps[record.steps.length - 1]?.step ?? 'start';
    record.outcome = stopped?.outcome ?? 'rolled_back';
    record.reason = `${failedStep}: ${errorMessage(err)}`;
    step('rolling back', record.reason);
    for (const deployment of [...record.deployments].reverse()) {
      if (!deployment.changed) continue;
      try {
        record.rollbacks.push(yield* rollbackActivity.call(context, { env: deployment.env, storageUri: deployment.storageUri }));
      } catch (rollbackError) {
        // Keep going: the other environment must still be restored, and the record must say what failed.
        record.rollbacks.push({ env: deployment.env, changed: false, skipped: `rollback failed: ${(rollbackError as Error).message}` });
      }
    }
  }
  record.finishedAt = now().toISOString();
  yield* recordActivity.call(context, record);
  df.setCustomStatus({ step: 'finished', version: input.version, outcome: record.outcome });
  return record;
}
