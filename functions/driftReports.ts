import { app, HttpRequest, HttpResponseInit } from '@azure/functions';
import { listDriftReports } from '../shared/drift/reportIndex';
import { withErrorContract } from '../shared/platform/errors';

/** GET /api/drift/reports[?env=] — the index of drift runs (newest first) with the paths of their reports. */
export const driftReports = withErrorContract(async (request: HttpRequest): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: await listDriftReports(request.query.get('env')),
}));

app.http('driftReports', {
  methods: ['GET'],
  authLevel: 'admin',
  route: 'drift/reports',
  handler: driftReports,
});
