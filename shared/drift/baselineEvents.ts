// What happens when a baseline is uploaded to `baselines/{model}/{version}/baseline.json` (the blob trigger in
// functions/baselineEvent.ts): validate → invalid: a rejection report, the previous baseline stays active;
// valid: activate, then run a drift check at once for every environment. Deliveries repeat (Event Grid and blob
// triggers are at-least-once), so every step is idempotent:
//   - the same content finds itself already active and its check already done → nothing to do;
//   - a delivery that crashed between activation and the check finds the check not done → runs it;
//   - the check's run id and window end come from the activation record, so a repeated check writes the same
//     report paths and the alert state sees the same run id (no second alert).
import { compactTime } from '../platform/blobLayout';
import { getConfig } from '../platform/config';
import { ActivationResult, activateBaselineUpload, markActivationChecked, parseBaselineName } from './activeBaseline';
import { DriftLogger } from './alerts';
import { DriftRunRequest, DriftRunSummary } from './driftRun';
import { driftEnvironments } from './driftSchedule';
import { runDriftInProcess } from './orchestration';

export interface BaselineEventOptions {
  logger?: DriftLogger;
  /** How a check runs (functions/baselineEvent.ts: on the WORKFLOW_BACKEND); default: in this process. */
  startCheck?: (request: DriftRunRequest) => Promise<DriftRunSummary>;
  now?: Date;
}

export interface BaselineEventResult {
  outcome: ActivationResult['outcome'] | 'ignored';
  /** Checks run by this delivery (none when the activation was already checked). */
  checks: DriftRunSummary[];
  rejectionPath?: string;
  issues?: string[];
}

export async function onBaselineUploaded(name: string, content: Buffer, options: BaselineEventOptions = {}): Promise<BaselineEventResult> {
  const logger = options.logger ?? console;
  if (!parseBaselineName(name)) {
    logger.log(`baselines/${name}: not a baseline path ({model}/{version}/baseline.json); ignored`);
    return { outcome: 'ignored', checks: [] };
  }
  const result = await activateBaselineUpload(name, content, options.now ?? new Date());
  if (result.outcome === 'rejected') {
    logger.warn(
      `baselines/${name} rejected (${result.issues.length} problems; report drift-reports/${result.rejectionPath}); ` +
        `${result.stillActive ? `baseline ${result.stillActive.sha256.slice(0, 12)} stays active` : 'no baseline is active for this version'}: ${result.issues.slice(0, 5).join('; ')}`,
    );
    return { outcome: 'rejected', checks: [], rejectionPath: result.rejectionPath, issues: result.issues };
  }
  const { record } = result;
  if (result.outcome === 'already_active' && record.checked_at) {
    logger.log(
      `baselines/${name}: ${record.sha256.slice(0, 12)} is already active and was checked at ${record.checked_at}; duplicate event ignored`,
    );
    return { outcome: 'already_active', checks: [] };
  }
  logger.log(
    `baselines/${name}: ${result.outcome === 'activated' ? 'activated' : 'active, check pending'} ${record.sha256.slice(0, 12)}; running drift checks`,
  );
  const activatedAt = new Date(record.activated_at);
  const config = getConfig();
  const checks: DriftRunSummary[] = [];
  for (const env of driftEnvironments()) {
    const request: DriftRunRequest = {
      env: env,
      modelName: record.model,
      modelVersion: record.version,
      windowEnd: record.activated_at,
      windowHours: config.driftWindowHours,
      trigger: 'baseline_event',
      runId: `baseline-${compactTime(activatedAt)}-${record.sha256.slice(0, 12)}-${env}`,
    };
    const summary = options.startCheck ? await options.startCheck(request) : await runDriftInProcess(request, { logger });
    logger.log(`drift check after activation (${env}): ${summary.status}${summary.reason ? ` (${summary.reason})` : ''}`);
    checks.push(summary);
  }
  await markActivationChecked(record.model, record.version, record.sha256, new Date());
  return { outcome: result.outcome, checks };
}
