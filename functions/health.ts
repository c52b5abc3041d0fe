import { app, HttpRequest, HttpResponseInit } from '@azure/functions';
import { withErrorContract } from '../shared/platform/errors';
import { summarizeHealth } from '../shared/platform/health';
import { healthStatusCode, sharedAppHealthReport } from '../shared/platform/appHealth';

/**
 * Anonymous, for probes and load balancers: the state of each dependency, nothing more (details: `health/details`),
 * from a report shared by the callers of the last two seconds.
 */
export const health = withErrorContract(async (_request: HttpRequest): Promise<HttpResponseInit> => {
  const report = await sharedAppHealthReport();
  return { status: healthStatusCode(report), jsonBody: summarizeHealth(report) };
});

app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: health,
});
