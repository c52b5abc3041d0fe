// Retraining as a Durable Functions orchestration: the orchestrator and one activity per step, each registered under
// the name the orchestrator calls it by (shared/lifecycle/retraining/). The starters are retrainModel, retrainTimer
// and a critical drift report; with WORKFLOW_BACKEND=in-process they run the same generator in their own process.
import * as df from 'durable-functions';
import {
  compareActivity,
  deleteHoldoutActivity,
  gatherActivity,
  promoteActivity,
  recordActivity,
  recordChallengerActivity,
  registerActivity,
  RETRAIN_COMPARE_ACTIVITY,
  RETRAIN_DELETE_HOLDOUT_ACTIVITY,
  RETRAIN_GATHER_ACTIVITY,
  RETRAIN_PROMOTE_ACTIVITY,
  RETRAIN_RECORD_ACTIVITY,
  RETRAIN_RECORD_CHALLENGER_ACTIVITY,
  RETRAIN_REGISTER_ACTIVITY,
  RETRAIN_TRAIN_ACTIVITY,
  RETRAIN_UNREGISTER_ACTIVITY,
  trainActivity,
  unregisterActivity,
} from '../shared/lifecycle/retraining/activities';
import { RETRAIN_ORCHESTRATOR, retrainOrchestrator } from '../shared/lifecycle/retraining/orchestrator';

df.app.orchestration(RETRAIN_ORCHESTRATOR, retrainOrchestrator);
// Gather checks that no promotion is running, and starting the promotion needs a Durable client.
df.app.activity(RETRAIN_GATHER_ACTIVITY, { handler: gatherActivity.handler, extraInputs: [df.input.durableClient()] });
df.app.activity(RETRAIN_TRAIN_ACTIVITY, { handler: trainActivity.handler });
df.app.activity(RETRAIN_COMPARE_ACTIVITY, { handler: compareActivity.handler });
df.app.activity(RETRAIN_RECORD_CHALLENGER_ACTIVITY, { handler: recordChallengerActivity.handler });
df.app.activity(RETRAIN_REGISTER_ACTIVITY, { handler: registerActivity.handler });
df.app.activity(RETRAIN_UNREGISTER_ACTIVITY, { handler: unregisterActivity.handler });
df.app.activity(RETRAIN_PROMOTE_ACTIVITY, { handler: promoteActivity.handler, extraInputs: [df.input.durableClient()] });
df.app.activity(RETRAIN_DELETE_HOLDOUT_ACTIVITY, { handler: deleteHoldoutActivity.handler });
df.app.activity(RETRAIN_RECORD_ACTIVITY, { handler: recordActivity.handler });
