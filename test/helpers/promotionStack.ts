// What the promotion runs against in the promotion and retraining tests: a stand-in for the predict gateway of the
// smoke evaluation (real HTTP on loopback), the fake Kubernetes API's kubeconfig, and the settings that point the app
// at both with the in-process runner. Not a test file.
import { HttpRequest } from '@azure/functions';
import fs from 'node:fs';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import path from 'node:path';
import { ANNOTATIONS } from '../../shared/lifecycle/kubernetes/inferenceService';
import { loadCorpus } from '../../training/corpus';
import { FakeKubeApi, fakeKubeconfigYaml } from './fakeKubeApi';

// The gateway as docs/gateway.md documents its batch response, standing in for functions/predict.ts: it
// answers with the model version the staging InferenceService serves (read from the Kubernetes API, as KServe's
// Ready Triton would) and scores from the corpus labels, well ('good') or inverted ('bad').
export interface StandInGateway {
  url: string;
  quality: 'good' | 'bad';
  environments: Set<string>;
  close(): Promise<void>;
}

export async function startStandInGateway(kubeApi: FakeKubeApi, namespace: string): Promise<StandInGateway> {
  const labels = new Map(loadCorpus().map((m) => [m.raw.toString('base64'), m.spam]));
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const env = String(req.headers['x-environment'] ?? 'production');
      gw.environments.add(env);
      const isvc = kubeApi.get(namespace, env === 'staging' ? 'spam-detector-staging' : 'spam-detector')!;
      const version = isvc.metadata.annotations[ANNOTATIONS.modelVersion];
      const instances = (JSON.parse(body) as { instances: Array<{ raw: string }> }).instances;
      const results = instances.map((inst, i) => {
        const spam = labels.get(inst.raw);
        if (spam === undefined) throw new Error('not a corpus message');
        const p = (spam ? 0.8 : 0.2) + ((i % 7) - 3) * 0.02;
        const probability = gw.quality === 'good' ? p : 1 - p;
        return {
          prediction: probability >= 0.5 ? 'spam' : 'ham',
          probability,
          probabilities: [1 - probability, probability],
          threshold: 0.5,
          model: { name: 'spam-detector', version },
          environment: env,
          degraded: false,
        };
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(
        JSON.stringify({
          request_id: req.headers['x-request-id'],
          environment: env,
          model: { name: 'spam-detector', version },
          degraded: false,
          count: results.length,
          results,
          latency_ms: 1,
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const gw: StandInGateway = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    quality: 'good',
    environments: new Set(),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return gw;
}

export const MODELS_URI = 'https://acct.blob.core.windows.net/models';
export const uriOf = (version: string) => `${MODELS_URI}/spam-detector/${version}/triton/`;

/** Settings of a promotion against `kube` and `gateway` on the in-process runner; the kubeconfig goes into `dir`. */
export function promotionTestSettings(kube: FakeKubeApi, gateway: StandInGateway, dir: string): Record<string, string> {
  fs.writeFileSync(path.join(dir, 'kubeconfig'), fakeKubeconfigYaml(kube.url, kube.caData));
  return {
    WORKFLOW_BACKEND: 'in-process',
    KUBE_CONNECTION: 'kubeconfig',
    KUBECONFIG: path.join(dir, 'kubeconfig'),
    KSERVE_MODELS_URI: MODELS_URI,
    PROMOTION_GATEWAY_URL: `${gateway.url}/api`,
    PROMOTION_READY_POLL_MS: '20',
    PROMOTION_READY_TIMEOUT_S: '10',
    PROMOTION_SMOKE_SAMPLES: '60',
  };
}

/** An admin route's request as the Functions host hands it to a handler: route parameters, and a JSON body if any. */
export function adminRequest(method: string, url: string, params: Record<string, string>, body?: unknown): HttpRequest {
  return new HttpRequest({
    method,
    url,
    params,
    headers: { 'content-type': 'application/json' },
    ...(body !== undefined ? { body: { string: JSON.stringify(body) } } : {}),
  });
}
