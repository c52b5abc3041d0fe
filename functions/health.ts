import { app, HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { toErrorResponse } from '../shared/errors';
import { blobHealthCheck, HealthCheck, healthTimeoutMs, runHealthChecks } from '../shared/health';

/** The dependencies `GET /api/health` reports on. */
export function healthChecks(): Record<string, HealthCheck> {
  return { blob: blobHealthCheck };
}

export async function health(_request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const report = await runHealthChecks(healthChecks(), healthTimeoutMs());
    return { status: report.status === 'down' ? 503 : 200, jsonBody: report };
  } catch (err) {
    return toErrorResponse(err, context);
  }
}

app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: health,
});
