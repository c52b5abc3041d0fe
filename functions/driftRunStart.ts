// POST /api/drift/run?env=production[&version=3][&hours=24]: a drift check on demand. Under Durable it starts the
// orchestration (functions/driftOrchestrator.ts) and answers with the Durable status URLs; with
// WORKFLOW_BACKEND=in-process it runs the check and answers with its summary.
import { app, HttpRequest, HttpResponse, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { compactTime, isEnvironment } from '../shared/platform/blobLayout';
import { getConfig } from '../shared/platform/config';
import { DriftRunRequest } from '../shared/drift/driftRun';
import { DRIFT_ORCHESTRATOR, runDriftInProcess } from '../shared/drift/orchestration';
import { BadRequestError, withErrorContract } from '../shared/platform/errors';
import { validateModelVersion } from '../shared/model/modelVersion';
import { workflowBackend } from '../shared/platform/workflow/backend';

export const driftRunStart = withErrorContract(async (request: HttpRequest, context: InvocationContext) => {
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
  const backend = workflowBackend(context);
  if (backend.kind === 'in-process') return new HttpResponse({ status: 200, jsonBody: await runDriftInProcess(run, { logger: context }) });
  const instanceId = await backend.client.startNew(DRIFT_ORCHESTRATOR, { instanceId: run.runId, input: run });
  return backend.client.createCheckStatusResponse(request, instanceId);
});

app.http('driftRunStart', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'drift/run',
  extraInputs: [df.input.durableClient()],
  handler: driftRunStart,
});
