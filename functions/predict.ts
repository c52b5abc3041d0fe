import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/platform/config';
import { readJsonBody } from '../shared/platform/http';
import { handleJsonPost } from '../shared/serving/predict/httpInput';
import { getPredictService } from '../shared/serving/predict/predictService';
import { parseEnvironment, parsePredictRequest } from '../shared/serving/predict/requestSchema';

/** POST /api/predict: one email or `{ instances: [...] }`; `X-Environment` picks the KServe backend. */
export async function predict(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const started = performance.now();
  return handleJsonPost(request, context, async (requestId) => {
    const config = getConfig();
    const environment = parseEnvironment(request.headers.get('x-environment'));
    const parsed = parsePredictRequest(await readJsonBody(request, { maxBytes: config.predictMaxBodyBytes }), config.predictMaxBatch);
    return getPredictService().predict(parsed, environment, requestId, started);
  });
}

app.http('predict', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'predict',
  handler: predict,
});
