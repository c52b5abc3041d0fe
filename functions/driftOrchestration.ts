// The Durable Functions side of the drift run: the orchestrator, its three activities and an HTTP starter
// (POST /api/drift/run?env=production[&version=3][&hours=24]) that starts a check on demand and answers with the
// Durable status URLs (in 'in-process' mode it runs the check and answers with its summary). The local host cannot run orchestrations (no Durable backend); there, the timer and the
// baseline event run the same activities in-process (shared/drift/orchestration.ts).
import { app, HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { compactTime, isEnvironment } from '../shared/platform/blobLayout';
import { getConfig } from '../shared/platform/config';
import { DriftRunRequest, summarizeRun } from '../shared/drift/driftRun';
import { DRIFT_ACTIVITIES, DRIFT_ORCHESTRATOR, driftActivityHandlers, driftOrchestrator, runDriftInProcess } from '../shared/drift/orchestration';
import { BadRequestError, withErrorContract } from '../shared/platform/errors';
import { validateModelVersion } from '../shared/model/modelVersion';

df.app.orchestration(DRIFT_ORCHESTRATOR, driftOrchestrator);
for (const name of Object.values(DRIFT_ACTIVITIES)) {
  df.app.activity(name, { handler: (input: unknown, context: InvocationContext) => driftActivityHandlers[name](input, context) });
}

export const startDriftRun = withErrorContract(async (request: HttpRequest, context: InvocationContext) => {
  const env = request.query.get('env') ?? 'production';
  if (!isEnvironment(env)) throw new BadRequestError(`env must be production or staging, got ${JSON.stringify(env)}`);
  const config = getConfig();
  const hours = Number(request.query.get('hours') ?? config.driftWindowHours);
  if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 90) throw new BadRequestError('hours must be an integer from 1 to 2160');
  const version = request.query.get('version');
  const now = new Date();
  const run: DriftRunRequest = {
    env,
    modelName: config.driftModelName,
    modelVersion: version === null ? undefined : validateModelVersion(version),
    windowEnd: now.toISOString(),
    windowHours: hours,
    trigger: 'http',
    runId: `http-${compactTime(now, { milliseconds: true })}-${env}`,
  };
  if (config.driftOrchestration !== 'durable') {
    // No Durable backend (the local host): run the same activities here and answer with the result.
    return new HttpResponse({ status: 200, jsonBody: summarizeRun(await runDriftInProcess(run, { logger: context })) });
  }
  const client = df.getClient(context);
  const instanceId = await client.startNew(DRIFT_ORCHESTRATOR, { instanceId: run.runId, input: run });
  return client.createCheckStatusResponse(request, instanceId);
});

app.http('driftRunStart', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'drift/run',
  extraInputs: [df.input.durableClient()],
  handler: startDriftRun,
});
