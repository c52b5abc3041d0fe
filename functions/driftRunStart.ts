// POST /api/drift/run?env=production[&version=3][&hours=24]: a drift check on demand (admin key). The window ends at
// the start of the current minute, and the run id follows from the environment, the window and the version, so
// every request for the same check within a minute gets the same run: 202 with its status URL (Location) when it
// is started or joined, 200 with its result when it has finished already, 409 naming the run in flight when another
// check of the environment is under way (shared/drift/driftRuns.ts). The check runs on the WORKFLOW_BACKEND; the
// answer never waits for it, so a caller that goes away stops nothing.
import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isEnvironment } from '../shared/platform/blobLayout';
import { getConfig } from '../shared/platform/config';
import { onDemandRequest, requestDriftRun } from '../shared/drift/driftRuns';
import { BadRequestError, withErrorContract } from '../shared/platform/errors';
import { validateModelVersion } from '../shared/model/modelVersion';
import { workflowBackend } from '../shared/platform/workflow/backend';

/** The status route of a drift run (functions/driftRunStatus.ts) on the host that answered `request`. */
function driftRunStatusUrl(request: HttpRequest, id: string): string {
  return `${new URL(request.url).origin}/api/drift/runs/${encodeURIComponent(id)}`;
}

export const driftRunStart = withErrorContract(async (request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> => {
  const env = request.query.get('env') ?? 'production';
  if (!isEnvironment(env)) throw new BadRequestError(`env must be production or staging, got ${JSON.stringify(env.slice(0, 100))}`);
  const config = getConfig();
  const hoursText = request.query.get('hours');
  const hours = hoursText === null ? config.driftWindowHours : /^\d{1,4}$/.test(hoursText) ? Number(hoursText) : NaN;
  if (!Number.isInteger(hours) || hours < 1 || hours > 24 * 90) throw new BadRequestError('hours must be an integer from 1 to 2160');
  const version = request.query.get('version');
  const run = onDemandRequest({
    env,
    modelName: config.driftModelName,
    hours,
    ...(version === null ? {} : { version: validateModelVersion(version) }),
    now: new Date(),
  });
  const statusUrl = (id: string) => driftRunStatusUrl(request, id);
  const { outcome, status } = await requestDriftRun(workflowBackend(context), run, context, statusUrl);
  const start = new Date(Date.parse(run.windowEnd) - hours * 3600_000).toISOString();
  return {
    status: outcome === 'finished' ? 200 : 202,
    headers: { Location: statusUrl(run.runId) },
    jsonBody: {
      id: run.runId,
      outcome,
      environment: env,
      window: { start, end: run.windowEnd, hours },
      ...(run.modelVersion === undefined ? {} : { version: run.modelVersion }),
      runtimeStatus: status.runtimeStatus,
      ...(status.record ? { record: status.record } : {}),
      status: statusUrl(run.runId),
    },
  };
});

app.http('driftRunStart', {
  methods: ['POST'],
  authLevel: 'admin',
  route: 'drift/run',
  extraInputs: [df.input.durableClient()],
  handler: driftRunStart,
});
