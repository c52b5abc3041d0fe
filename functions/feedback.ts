import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/platform/config';
import { readJsonBody } from '../shared/platform/http';
import { handleJsonPost } from '../shared/serving/predict/httpInput';
import { parseFeedbackRequest } from '../shared/feedback/feedbackRequest';
import { submitFeedback } from '../shared/feedback/feedbackService';

/** POST /api/feedback: a user's "spam" / "not spam" on one email or `{ instances: [...] }`. */
export async function feedback(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleJsonPost(request, context, async () => {
    const config = getConfig();
    const parsed = parseFeedbackRequest(await readJsonBody(request, { maxBytes: config.predictMaxBodyBytes }), config.feedbackMaxBatch);
    return submitFeedback(parsed);
  });
}

app.http('feedback', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'feedback',
  handler: feedback,
});
