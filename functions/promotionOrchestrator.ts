// The promotion as a Durable Functions orchestration: the orchestrator and its activities, each registered under
// the name the orchestrator calls it by (shared/lifecycle/promotion/). The starter is promoteModel; with
// WORKFLOW_BACKEND=in-process it runs the same generator in its own process.
import * as df from 'durable-functions';
import {
  checkArtifactsActivity,
  deployActivity,
  PROMOTION_CHECK_ARTIFACTS_ACTIVITY,
  PROMOTION_DEPLOY_ACTIVITY,
  PROMOTION_READ_STATUS_ACTIVITY,
  PROMOTION_RECORD_ACTIVITY,
  PROMOTION_ROLLBACK_ACTIVITY,
  PROMOTION_SMOKE_EVALUATION_ACTIVITY,
  readStatusActivity,
  recordActivity,
  rollbackActivity,
  smokeEvaluationActivity,
} from '../shared/lifecycle/promotion/activities';
import { PROMOTION_ORCHESTRATOR, promotionOrchestrator } from '../shared/lifecycle/promotion/orchestrator';

df.app.orchestration(PROMOTION_ORCHESTRATOR, promotionOrchestrator);
df.app.activity(PROMOTION_CHECK_ARTIFACTS_ACTIVITY, { handler: checkArtifactsActivity.handler });
df.app.activity(PROMOTION_DEPLOY_ACTIVITY, { handler: deployActivity.handler });
df.app.activity(PROMOTION_READ_STATUS_ACTIVITY, { handler: readStatusActivity.handler });
df.app.activity(PROMOTION_SMOKE_EVALUATION_ACTIVITY, { handler: smokeEvaluationActivity.handler });
df.app.activity(PROMOTION_ROLLBACK_ACTIVITY, { handler: rollbackActivity.handler });
df.app.activity(PROMOTION_RECORD_ACTIVITY, { handler: recordActivity.handler });
