import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/platform/config';
import { readJsonBody } from '../shared/platform/http';
import { handleJsonPost } from '../shared/serving/predict/httpInput';
import { getPredictService } from '../shared/serving/predict/predictService';
import { parseEnvironment, parsePredictRequest } from '../shared/serving/predict/requestSchema';

/** POST /api/transform: the 50 named features of an email (or a batch), as the environment's model sees them. */
export async function transform(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  return handleJsonPost(request, context, async (requestId) => {
    const config = getConfig();
    const environment = parseEnvironment(request.headers.get('x-environment'));
    const parsed = parsePredictRequest(await readJsonBody(request, { maxBytes: config.predictMaxBodyBytes }), config.predictMaxBatch);
    const { model, results, degraded } = await getPredictService().transform(parsed, environment);
    return parsed.kind === 'single'
      ? { request_id: requestId, environment, model, ...results[0] }
      : { request_id: requestId, environment, model, degraded, count: results.length, results };
  });
}

app.http('transform', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'transform',
  handler: transform,
});
