import { app, HttpRequest, HttpResponseInit } from '@azure/functions';
import { withErrorContract } from '../shared/platform/errors';
import { eraseFeedbackOf } from '../shared/feedback/feedbackService';

/** DELETE /api/feedback/{request_id}: remove every feedback record of a prediction (buffered and stored). */
export const feedbackErase = withErrorContract(async (request: HttpRequest): Promise<HttpResponseInit> => ({
  status: 200,
  jsonBody: await eraseFeedbackOf(request.params.request_id),
}));

app.http('feedbackErase', {
  methods: ['DELETE'],
  authLevel: 'admin',
  route: 'feedback/{request_id}',
  handler: feedbackErase,
});
