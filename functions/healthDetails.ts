import { app, HttpRequest, HttpResponseInit } from '@azure/functions';
import { withErrorContract } from '../shared/platform/errors';
import { appHealthReport, healthStatusCode } from '../shared/platform/appHealth';

/** The full report for operators: served versions, breaker state, logger counters, error messages. */
export const healthDetails = withErrorContract(async (_request: HttpRequest): Promise<HttpResponseInit> => {
  const report = await appHealthReport();
  return { status: healthStatusCode(report), jsonBody: report };
});

app.http('healthDetails', {
  methods: ['GET'],
  // Served versions, breaker state and error messages that name internal hosts are for operators.
  authLevel: 'admin',
  route: 'health/details',
  handler: healthDetails,
});
