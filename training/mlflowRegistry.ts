// Registration of a trained model version in MLflow's model registry (aks/mlflow/), through MLflow's REST
// API 2.0 (no Python client in a Node project): one run in the experiment named after the model, holding the card's
// metrics and training parameters, and a registered model version whose source is the Blob folder of the version
// (the artifacts stay in Blob, where KServe reads them). Idempotent: a version already registered for the same
// project version is found by its tag and returned, so re-running the training upload does not duplicate it.
import { CONTAINERS, modelPrefix } from '../shared/platform/blobLayout';
import { getContainerClient } from '../shared/platform/blobStorage';
import { getConfig } from '../shared/platform/config';
import type { ModelCard } from '../shared/model/modelCard';

export interface MlflowOptions {
  trackingUri: string;
  token?: string;
  modelName: string;
  timeoutMs?: number;
}

export interface RegisteredVersion {
  name: string;
  /** MLflow's own version number (1, 2, ...), distinct from the project's model version. */
  mlflowVersion: string;
  runId: string;
  source: string;
  created: boolean;
}

/** MLflow answered with an error body ({ error_code, message }). */
export class MlflowError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(`MLflow ${status} ${errorCode}: ${message}`);
    this.name = 'MlflowError';
  }
}

/** The tag that ties an MLflow model version to the project's version string. */
export const VERSION_TAG = 'spam_detection.model_version';

async function call<T>(
  options: MlflowOptions,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  query?: Record<string, string>,
): Promise<T> {
  const url = new URL(`${options.trackingUri.replace(/\/+$/, '')}/api/2.0/mlflow/${path}`);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  const res = await fetch(url, {
    method,
    headers: {
      ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}),
      ...(options.token ? { Authorization: `Bearer ${options.token}` } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(options.timeoutMs ?? 15000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = { message: text.slice(0, 200) };
  }
  if (!res.ok) {
    const error = json as { error_code?: string; message?: string };
    throw new MlflowError(res.status, error.error_code ?? 'HTTP_ERROR', error.message ?? res.statusText);
  }
  return json as T;
}

const tag = (key: string, value: string) => ({ key, value: value.slice(0, 5000) });

async function experimentId(options: MlflowOptions, name: string): Promise<string> {
  try {
    const found = await call<{ experiment: { experiment_id: string } }>(options, 'GET', 'experiments/get-by-name', undefined, {
      experiment_name: name,
    });
    return found.experiment.experiment_id;
  } catch (err) {
    if (!(err instanceof MlflowError && err.errorCode === 'RESOURCE_DOES_NOT_EXIST')) throw err;
  }
  return (await call<{ experiment_id: string }>(options, 'POST', 'experiments/create', { name })).experiment_id;
}

interface ModelVersion {
  name: string;
  version: string;
  run_id?: string;
  source?: string;
  tags?: Array<{ key: string; value: string }>;
}

async function findVersion(options: MlflowOptions, projectVersion: string): Promise<ModelVersion | undefined> {
  let pageToken: string | undefined;
  do {
    const page = await call<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
      options,
      'GET',
      'model-versions/search',
      undefined,
      {
        filter: `name='${options.modelName.replace(/'/g, "\\'")}'`,
        max_results: '200',
        ...(pageToken ? { page_token: pageToken } : {}),
      },
    );
    const hit = page.model_versions?.find((v) => v.tags?.some((t) => t.key === VERSION_TAG && t.value === projectVersion));
    if (hit) return hit;
    pageToken = page.next_page_token || undefined;
  } while (pageToken);
  return undefined;
}

/** The card's numbers as MLflow metrics (`{split}.{figure}`) and its training settings as parameters. */
export function cardToRunData(card: ModelCard, timestamp: number) {
  const metrics: Array<{ key: string; value: number; timestamp: number; step: number }> = [];
  for (const [split, figures] of Object.entries(card.metrics)) {
    for (const [name, value] of Object.entries(figures)) {
      if (typeof value === 'number' && Number.isFinite(value)) metrics.push({ key: `${split}.${name}`, value, timestamp, step: 0 });
    }
  }
  const params = [
    { key: 'threshold', value: String(card.threshold.value) },
    { key: 'feature_count', value: String(card.features.length) },
    ...Object.entries(card.training)
      .filter(([, v]) => v !== null && ['string', 'number', 'boolean'].includes(typeof v))
      .map(([k, v]) => ({ key: `training.${k}`, value: String(v).slice(0, 500) })),
  ];
  return { metrics, params };
}

export async function registerModelVersion(
  card: ModelCard,
  source: string,
  options: MlflowOptions,
  now = Date.now(),
): Promise<RegisteredVersion> {
  const existing = await findVersion(options, card.version);
  if (existing)
    return {
      name: existing.name,
      mlflowVersion: existing.version,
      runId: existing.run_id ?? '',
      source: existing.source ?? source,
      created: false,
    };

  const experiment = await experimentId(options, options.modelName);
  const run = await call<{ run: { info: { run_id: string } } }>(options, 'POST', 'runs/create', {
    experiment_id: experiment,
    run_name: `${options.modelName}-${card.version}`,
    start_time: now,
    tags: [tag(VERSION_TAG, card.version), tag('mlflow.source.name', 'npm run train'), tag('created', card.created)],
  });
  const runId = run.run.info.run_id;
  const { metrics, params } = cardToRunData(card, now);
  // log-batch takes at most 1000 metrics and 100 params per call.
  for (let i = 0; i < metrics.length; i += 1000)
    await call(options, 'POST', 'runs/log-batch', { run_id: runId, metrics: metrics.slice(i, i + 1000) });
  for (let i = 0; i < params.length; i += 100)
    await call(options, 'POST', 'runs/log-batch', { run_id: runId, params: params.slice(i, i + 100) });
  await call(options, 'POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: now });

  try {
    await call(options, 'POST', 'registered-models/create', { name: options.modelName, description: card.description });
  } catch (err) {
    if (!(err instanceof MlflowError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
  }
  const created = await call<{ model_version: ModelVersion }>(options, 'POST', 'model-versions/create', {
    name: options.modelName,
    source,
    run_id: runId,
    description: `${card.description} (project version ${card.version})`,
    tags: [tag(VERSION_TAG, card.version)],
  });
  return { name: created.model_version.name, mlflowVersion: created.model_version.version, runId, source, created: true };
}

/** The Blob folder of a model version (models/{name}/{version}/), as the registry's source of the version. */
export function modelSourceUri(name: string, version: string): string {
  return `${getContainerClient(CONTAINERS.models).url}/${modelPrefix(name, version)}`;
}

/**
 * What the training CLI calls after uploading a version: registers it when MLFLOW_TRACKING_URI is set, else does
 * nothing (and says so). `source` defaults to the version's Blob folder.
 */
export async function registerWithMlflowIfConfigured(
  card: ModelCard,
  log: (line: string) => void = () => undefined,
  source = modelSourceUri(card.name, card.version),
): Promise<RegisteredVersion | undefined> {
  const config = getConfig();
  if (!config.mlflowTrackingUri) {
    log('MLflow: MLFLOW_TRACKING_URI is not set; not registering');
    return undefined;
  }
  const result = await registerModelVersion(card, source, {
    trackingUri: config.mlflowTrackingUri,
    token: config.mlflowToken,
    modelName: config.mlflowModelName,
  });
  log(
    `MLflow: ${result.created ? 'registered' : 'already registered'} ${result.name} version ${result.mlflowVersion} (run ${result.runId}) for ${card.version}`,
  );
  return result;
}
