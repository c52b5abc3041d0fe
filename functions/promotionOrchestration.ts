// The promotion's Durable Functions: the orchestrator and its activities, registered under the names the
// orchestrator calls. The code is in shared/promotion/ (the local runner uses the same functions).
import * as df from 'durable-functions';
import { PROMOTION_ACTIVITIES } from '../shared/lifecycle/promotion/activities';
import { PROMOTION_ORCHESTRATOR, promotionOrchestrator } from '../shared/lifecycle/promotion/orchestrator';

df.app.orchestration(PROMOTION_ORCHESTRATOR, promotionOrchestrator);

for (const [name, activity] of Object.entries(PROMOTION_ACTIVITIES)) {
  df.app.activity(name, { handler: (input: unknown) => (activity as (i: unknown) => Promise<unknown>)(input) });
}
