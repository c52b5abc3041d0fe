import { app, HttpRequest, HttpResponseInit } from '@azure/functions';
import { withErrorContract } from '../shared/errors';
import { redisHealthCheck } from '../shared/featureStore';
import { blobHealthCheck, HealthCheck, healthTimeoutMs, runHealthChecks } from '../shared/health';
import { kserveHealthCheck } from '../shared/kserveClient';
import { inferenceLoggerHealthCheck } from '../shared/logs/inferenceLogger';

/** The dependencies `GET /api/health` reports on. */
export function healthChecks(): Record<string, HealthCheck> {
  return {
    blob: blobHealthCheck,
    kserve_production: kserveHealthCheck('production'),
    kserve_staging: kserveHealthCheck('staging'),
    redis: redisHealthCheck,
    inference_logger: inferenceLoggerHealthCheck(),
  };
}

export const health = withErrorContract(async (_request: HttpRequest): Promise<HttpResponseInit> => {
  const report = await runHealthChecks(healthChecks(), healthTimeoutMs());
  return { status: report.status === 'down' ? 503 : 200, jsonBody: report };
});

app.http('health', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: 'health',
  handler: health,
});
