import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { ENVIRONMENTS } from '../shared/platform/blobLayout';
import { getConfig } from '../shared/platform/config';
import { flushInferenceLogger } from '../shared/logs/inferenceLogger';
import { readJsonBody } from '../shared/platform/http';
import { handleJsonPost } from '../shared/serving/predict/httpInput';
import { getEnvironmentModel } from '../shared/serving/predict/environmentModels';
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

// Load both environments' models (ONNX session, token table: about a second) when the worker starts, not on the
// first request of a new instance; not awaited, and a failure is retried by that first request.
app.hook.appStart(() => {
  for (const env of ENVIRONMENTS) void getEnvironmentModel(env).catch(() => undefined);
});

// The logger buffers records in memory; the host's shutdown (scale-in, deployment, Ctrl-C locally) must write them.
app.hook.appTerminate(() => flushInferenceLogger());

app.http('predict', {
  methods: ['POST'],
  authLevel: 'function',
  route: 'predict',
  handler: predict,
});
