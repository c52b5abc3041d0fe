import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { getConfig } from '../shared/config';
import { toErrorResponse } from '../shared/errors';
import { flushInferenceLogger } from '../shared/logs/inferenceLogger';
import { readJsonBody, requestIdOf } from '../shared/predict/httpInput';
import { getPredictService } from '../shared/predict/predictService';
import { parseEnvironment, parsePredictRequest } from '../shared/predict/requestSchema';

/** POST /api/predict: one email or `{ instances: [...] }`; `X-Environment` picks the KServe backend. */
export async function predict(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const started = performance.now();
  const requestId = requestIdOf(request);
  const headers = { 'X-Request-ID': requestId };
  try {
    const config = getConfig();
    const environment = parseEnvironment(request.headers.get('x-environment'));
    const body = await readJsonBody(request, config.predictMaxBodyBytes);
    const parsed = parsePredictRequest(body, config.predictMaxBatch);
    const result = await getPredictService().predict(parsed, environment, requestId, started);
    return { status: 200, jsonBody: result, headers };
  } catch (err) {
    const res = toErrorResponse(err, context);
    return { ...res, headers: { ...(res.headers as Record<string, string>), ...headers } };
  }
}

// The logger buffers records in memory; the host's shutdown (scale-in, deployment, Ctrl-C locally) must write them.
app.hook.appTerminate(() => flushInferenceLogger());

app.http('predict', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'predict',
  handler: predict,
});
