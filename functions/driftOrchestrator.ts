// The drift check as a Durable Functions orchestration: the orchestrator and its three activities, each registered
// under the name the orchestrator calls it by (shared/drift/orchestration.ts). The starters are driftTimer,
// baselineEvent and driftRunStart; with WORKFLOW_BACKEND=in-process they run the same generator in their own process.
import * as df from 'durable-functions';
import {
  DRIFT_COUNT_PARTITION_ACTIVITY,
  DRIFT_FINISH_ACTIVITY,
  DRIFT_ORCHESTRATOR,
  DRIFT_PLAN_ACTIVITY,
  driftCountPartitionActivity,
  driftFinishActivity,
  driftOrchestrator,
  driftPlanActivity,
} from '../shared/drift/orchestration';

df.app.orchestration(DRIFT_ORCHESTRATOR, driftOrchestrator);
df.app.activity(DRIFT_PLAN_ACTIVITY, { handler: driftPlanActivity.handler });
df.app.activity(DRIFT_COUNT_PARTITION_ACTIVITY, { handler: driftCountPartitionActivity.handler });
// The Durable client lets a critical report start a retraining (RETRAIN_ON_CRITICAL_DRIFT).
df.app.activity(DRIFT_FINISH_ACTIVITY, { handler: driftFinishActivity.handler, extraInputs: [df.input.durableClient()] });
