import { app, HttpRequest, HttpResponseInit } from '@azure/functions';
import { withErrorContract } from '../shared/platform/errors';
import { feedbackSummaryOf } from '../shared/feedback/feedbackService';

/** GET /api/feedback/summary?since=...: how often the served models were wrong, by environment and version. */
export const feedbackSummary = withErrorContract(async (request: HttpRequest): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: await feedbackSummaryOf(request.query),
}));

app.http('feedbackSummary', {
  methods: ['GET'],
  authLevel: 'admin',
  route: 'feedback/summary',
  handler: feedbackSummary,
});
