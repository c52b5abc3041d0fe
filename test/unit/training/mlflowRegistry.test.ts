// MLflow registration against a local HTTP server implementing the MLflow REST API 2.0 endpoints used
// (experiments/get-by-name and create, runs/create, log-batch, update, registered-models/create,
// model-versions/create and search), with request and response shapes and error bodies
// ({ error_code, message }: RESOURCE_DOES_NOT_EXIST 404, RESOURCE_ALREADY_EXISTS 400) as MLflow's REST API
// reference documents them. MLflow itself (Python) cannot be installed on this machine.
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { FEATURES } from '../../../shared/serving/features/featureList';
import { ModelCard } from '../../../shared/model/modelCard';
import { MlflowError, registerModelVersion, registerWithMlflowIfConfigured, VERSION_TAG } from '../../../training/mlflowRegistry';
import { setAppEnv } from '../../helpers/env';

interface FakeMlflow {
  url: string;
  calls: string[];
  runs: Map<string, { metrics: any[]; params: any[]; tags: any[]; status: string; experiment_id: string }>;
  versions: any[];
  denyWith?: number;
  close(): Promise<void>;
}

async function startFakeMlflow(): Promise<FakeMlflow> {
  const experiments = new Map<string, string>();
  const models = new Set<string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace('/api/2.0/mlflow/', '');
      fake.calls.push(`${req.method} ${path}`);
      const send = (status: number, json: unknown) => {
        res.writeHead(status, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify(json));
      };
      const error = (status: number, code: string, message: string) => send(status, { error_code: code, message });
      if (fake.denyWith) return error(fake.denyWith, 'PERMISSION_DENIED', 'not allowed');
      const b = body ? JSON.parse(body) : {};
      switch (`${req.method} ${path}`) {
        case 'GET experiments/get-by-name': {
          const id = experiments.get(url.searchParams.get('experiment_name') ?? '');
          return id
            ? send(200, { experiment: { experiment_id: id, name: url.searchParams.get('experiment_name') } })
            : error(404, 'RESOURCE_DOES_NOT_EXIST', 'Could not find experiment');
        }
        case 'POST experiments/create': {
          const id = String(experiments.size + 1);
          experiments.set(b.name, id);
          return send(200, { experiment_id: id });
        }
        case 'POST runs/create': {
          const runId = `run${fake.runs.size + 1}`;
          fake.runs.set(runId, { metrics: [], params: [], tags: b.tags ?? [], status: 'RUNNING', experiment_id: b.experiment_id });
          return send(200, { run: { info: { run_id: runId, experiment_id: b.experiment_id, status: 'RUNNING' }, data: {} } });
        }
        case 'POST runs/log-batch': {
          const run = fake.runs.get(b.run_id)!;
          run.metrics.push(...(b.metrics ?? []));
          run.params.push(...(b.params ?? []));
          return send(200, {});
        }
        case 'POST runs/update':
          fake.runs.get(b.run_id)!.status = b.status;
          return send(200, { run_info: { run_id: b.run_id, status: b.status } });
        case 'POST registered-models/create':
          if (models.has(b.name)) return error(400, 'RESOURCE_ALREADY_EXISTS', `Registered Model (name=${b.name}) already exists.`);
          models.add(b.name);
          return send(200, { registered_model: { name: b.name } });
        case 'POST model-versions/create': {
          const mv = {
            name: b.name,
            version: String(fake.versions.filter((v) => v.name === b.name).length + 1),
            source: b.source,
            run_id: b.run_id,
            tags: b.tags,
            status: 'READY',
          };
          fake.versions.push(mv);
          return send(200, { model_version: mv });
        }
        case 'GET model-versions/search': {
          const name = /name='(.*)'/.exec(url.searchParams.get('filter') ?? '')?.[1];
          return send(200, { model_versions: fake.versions.filter((v) => v.name === name) });
        }
      }
      error(404, 'ENDPOINT_NOT_FOUND', `no ${req.method} ${path}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: FakeMlflow = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls: [],
    runs: new Map(),
    versions: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  return fake;
}

const figures = {
  rows: 100,
  spam: 40,
  ham: 60,
  rocAuc: 0.99,
  threshold: 0.6,
  spamRecall: 0.9,
  hamFalsePositiveRate: 0.01,
  precision: 0.97,
  accuracy: 0.96,
  f1: 0.93,
  logLoss: 0.1,
  confusion: { tp: 36, fp: 1, tn: 59, fn: 4 },
};
const card = (version: string) =>
  ({
    name: 'spam-detector',
    version,
    description: 'Logistic regression on 50 features',
    created: '2026-01-01T00:00:00.000Z',
    features: FEATURES.map((f) => ({ name: f.name, description: f.description, group: f.group })),
    threshold: { value: 0.6 },
    training: { seed: 42, algorithm: 'logistic regression', split: { kind: 'time-forward' } },
    metrics: { timeForwardTest: figures, randomTest: { ...figures, accuracy: 0.98 } },
  }) as unknown as ModelCard;

let mlflow: FakeMlflow;
beforeEach(async () => {
  mlflow = await startFakeMlflow();
});
afterEach(async () => {
  await mlflow.close();
});

test('registers a version: a finished run with the card metrics and params, and a model version pointing at Blob', async () => {
  const source = 'https://acct.blob.core.windows.net/models/spam-detector/1.0.0/';
  const result = await registerModelVersion(card('1.0.0'), source, { trackingUri: mlflow.url, modelName: 'spam-detector' });
  expect(result).toEqual({ name: 'spam-detector', mlflowVersion: '1', runId: 'run1', source, created: true });
  const run = mlflow.runs.get('run1')!;
  expect(run.status).toBe('FINISHED');
  expect(run.tags).toEqual(expect.arrayContaining([{ key: VERSION_TAG, value: '1.0.0' }]));
  expect(run.metrics).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ key: 'timeForwardTest.rocAuc', value: 0.99 }),
      expect.objectContaining({ key: 'randomTest.accuracy', value: 0.98 }),
    ]),
  );
  expect(run.metrics.some((m) => m.key.includes('confusion'))).toBe(false); // only numbers
  expect(run.params).toEqual(
    expect.arrayContaining([
      { key: 'threshold', value: '0.6' },
      { key: 'feature_count', value: '50' },
      { key: 'training.seed', value: '42' },
    ]),
  );
  expect(mlflow.versions[0]).toMatchObject({ source, run_id: 'run1', tags: [{ key: VERSION_TAG, value: '1.0.0' }] });
});

test('registering the same project version again returns the existing MLflow version; a new one gets version 2', async () => {
  const opts = { trackingUri: mlflow.url, modelName: 'spam-detector' };
  await registerModelVersion(card('1.0.0'), 'src/1.0.0/', opts);
  const again = await registerModelVersion(card('1.0.0'), 'src/1.0.0/', opts);
  expect(again).toMatchObject({ created: false, mlflowVersion: '1' });
  const next = await registerModelVersion(card('1.1.0'), 'src/1.1.0/', opts);
  expect(next).toMatchObject({ created: true, mlflowVersion: '2' });
  expect(mlflow.versions).toHaveLength(2);
  // The experiment was created once and found the second time; the registered model's 400 ALREADY_EXISTS is fine.
  expect(mlflow.calls.filter((c) => c === 'POST experiments/create')).toHaveLength(1);
});

test('MLflow errors surface with their error code', async () => {
  mlflow.denyWith = 403;
  const err = await registerModelVersion(card('1.0.0'), 's', { trackingUri: mlflow.url, modelName: 'm' }).catch((e) => e);
  expect(err).toBeInstanceOf(MlflowError);
  expect(err.message).toBe('MLflow 403 PERMISSION_DENIED: not allowed');
});

test('the training hook registers only when MLFLOW_TRACKING_URI is set', async () => {
  const lines: string[] = [];
  let restore = setAppEnv({ MLFLOW_TRACKING_URI: undefined });
  expect(await registerWithMlflowIfConfigured(card('1.0.0'), (l) => lines.push(l), 's')).toBeUndefined();
  restore();
  expect(mlflow.calls).toEqual([]);
  restore = setAppEnv({
    MLFLOW_TRACKING_URI: mlflow.url,
    MLFLOW_MODEL_NAME: 'spam-detector',
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
  });
  try {
    expect(await registerWithMlflowIfConfigured(card('1.0.0'), (l) => lines.push(l))).toMatchObject({ created: true });
    expect(mlflow.versions[0].source).toBe('http://127.0.0.1:10000/devstoreaccount1/models/spam-detector/1.0.0/');
  } finally {
    restore();
  }
  expect(lines).toEqual([
    'MLflow: MLFLOW_TRACKING_URI is not set; not registering',
    'MLflow: registered spam-detector version 1 (run run1) for 1.0.0',
  ]);
});
