// The promotion's activities: plain async functions of JSON in, JSON out, each defined under the name the
// orchestrator calls it by (functions/promotionOrchestrator.ts registers them; with WORKFLOW_BACKEND=in-process the
// in-process runner calls the same handlers). Each is safe to run again (Durable retries and replays activities).
import { CONTAINERS, Environment, modelPrefix, promotionRecordPath, tritonRepositoryPrefix } from '../../platform/blobLayout';
import { getContainerClient, readJsonBlob } from '../../platform/blobStorage';
import { getConfig } from '../../platform/config';
import { defineActivity } from '../../platform/workflow/activity';
import { BadRequestError, errorMessage, NotFoundError } from '../../platform/errors';
import { MODEL_FILES, MODEL_NAME } from '../../model/modelArtifacts';
import { ModelCard, ModelCardError, parseModelCard, SMOKE_METRICS_KEY } from '../../model/modelCard';
import { InferenceServiceClient, describeReadiness, readinessVerdict } from '../kubernetes/inferenceService';
import { kubeConfigSource } from '../kubernetes/kubeConfig';
import { loadHeldOutSet } from './heldOutSet';
import { runSmokeEvaluation, spreadSamples } from './smokeEvaluation';
import { ArtifactsChecked, Deployment, ModelReadiness, PromotionRecord, Rollback, SmokeResult } from './types';

let kserve: InferenceServiceClient | undefined;

/** The InferenceService client, built on first use from configuration. */
export function inferenceServices(): InferenceServiceClient {
  kserve ??= new InferenceServiceClient(kubeConfigSource(getConfig()), getConfig().kserveNamespace);
  return kserve;
}

/** Drop the cached client (tests point the app at another Kubernetes API). */
export function resetInferenceServices(): void {
  kserve = undefined;
}

export function inferenceServiceName(env: Environment): string {
  const config = getConfig();
  return env === 'staging' ? config.kserveStagingName : config.kserveProductionName;
}

/** The models container as KServe's storage initializer reaches it: what every storageUri starts with. */
export function modelsStorageUri(): string {
  return (getConfig().kserveModelsUri ?? getContainerClient(CONTAINERS.models).url).replace(/\/+$/, '');
}

/** The storageUri KServe reads a version from: the models container as KServe reaches it + the Triton prefix. */
export function modelStorageUri(model: string, version: string): string {
  return `${modelsStorageUri()}/${tritonRepositoryPrefix(model, version)}`;
}

/**
 * The figures the smoke evaluation is held to: the card's time-forward test metrics (held-out mail never used
 * for any choice), else the first test-like entry.
 */
export function referenceMetrics(card: ModelCard): { key: string; accuracy: number; rocAuc: number } {
  const keys = Object.keys(card.metrics);
  const key =
    (card.metrics[SMOKE_METRICS_KEY] ? SMOKE_METRICS_KEY : undefined) ??
    keys.find((k) => /time.?forward/i.test(k) && /test/i.test(k)) ??
    keys.find((k) => /test/i.test(k)) ??
    keys[0];
  if (!key) throw new ModelCardError('model.json: the card has no metrics to compare the smoke evaluation with');
  return { key, accuracy: card.metrics[key].accuracy, rocAuc: card.metrics[key].rocAuc };
}

/** Every file of the version exists in models/, and its card describes the features this code computes. */
export async function checkArtifacts(input: { model: string; version: string }): Promise<ArtifactsChecked> {
  const container = getContainerClient(CONTAINERS.models);
  const prefix = modelPrefix(input.model, input.version);
  const required = [MODEL_FILES.onnx, MODEL_FILES.card, MODEL_FILES.tritonOnnx, MODEL_FILES.tritonConfig];
  const missing: string[] = [];
  for (const file of required) {
    if (!(await container.getBlobClient(prefix + file).exists())) missing.push(`${CONTAINERS.models}/${prefix}${file}`);
  }
  if (missing.length === required.length)
    throw new NotFoundError(`model version ${input.version} is not in ${CONTAINERS.models}/ (no ${missing[0]})`);
  if (missing.length)
    throw new BadRequestError(`model version ${input.version} is incomplete: missing ${missing.join(', ')}`, 'incomplete_model');
  const cardBytes = await container.getBlobClient(prefix + MODEL_FILES.card).downloadToBuffer();
  let card: ModelCard;
  try {
    card = parseModelCard(JSON.parse(cardBytes.toString('utf8')), `${CONTAINERS.models}/${prefix}${MODEL_FILES.card}`);
  } catch (err) {
    throw new BadRequestError(errorMessage(err), 'invalid_model_card');
  }
  if (card.version !== input.version) {
    throw new BadRequestError(`the card in ${prefix} says version ${card.version}, not ${input.version}`, 'invalid_model_card');
  }
  const reference = referenceMetrics(card);
  return {
    storageUri: modelStorageUri(input.model, input.version),
    card: {
      version: card.version,
      accuracy: reference.accuracy,
      rocAuc: reference.rocAuc,
      metricsKey: reference.key,
      threshold: card.threshold.value,
    },
  };
}

export async function deployModel(input: { env: Environment; version: string; storageUri: string }): Promise<Deployment> {
  const name = inferenceServiceName(input.env);
  const result = await inferenceServices().deploy(name, { storageUri: input.storageUri, modelVersion: input.version });
  return {
    env: input.env,
    name,
    storageUri: input.storageUri,
    changed: result.changed,
    previousStorageUri: result.previousStorageUri,
    previousModelVersion: result.previousModelVersion,
  };
}

/** One look at the InferenceService (the orchestrator polls with durable timers between looks). */
export async function readModelStatus(input: { env: Environment; storageUri: string }): Promise<ModelReadiness> {
  const status = await inferenceServices().getStatus(inferenceServiceName(input.env));
  if (status.storageUri !== input.storageUri) {
    return {
      env: input.env,
      verdict: 'failed',
      detail: `it now serves ${status.storageUri}, changed by someone else`,
      storageUri: status.storageUri,
    };
  }
  return {
    env: input.env,
    verdict: readinessVerdict(status),
    detail: describeReadiness(status),
    url: status.url,
    storageUri: status.storageUri,
  };
}

export async function smokeEvaluation(input: {
  version: string;
  reference: { accuracy: number; rocAuc: number; metricsKey: string };
  samples: number;
  margins: { accuracy: number; auc: number };
}): Promise<SmokeResult> {
  const config = getConfig();
  const heldOut = await loadHeldOutSet(MODEL_NAME);
  return runSmokeEvaluation(spreadSamples(heldOut.samples, input.samples), {
    gatewayUrl: config.promotionGatewayUrl,
    gatewayKey: config.promotionGatewayKey,
    version: input.version,
    reference: input.reference,
    margins: input.margins,
  });
}

/** Undo our change: only if the InferenceService still serves what we deployed (never clobber a newer change). */
export async function rollbackModel(input: { env: Environment; storageUri: string }): Promise<Rollback> {
  const result = await inferenceServices().rollback(inferenceServiceName(input.env), { storageUri: input.storageUri });
  return { env: input.env, changed: result.changed, skipped: result.skipped, storageUri: result.status.storageUri };
}

export async function recordPromotion(record: PromotionRecord): Promise<{ blob: string }> {
  const blob = promotionRecordPath(record.model, record.promotionId);
  const body = JSON.stringify(record, null, 2);
  const container = getContainerClient(CONTAINERS.models);
  await container.createIfNotExists();
  await container
    .getBlockBlobClient(blob)
    .upload(body, Buffer.byteLength(body), { blobHTTPHeaders: { blobContentType: 'application/json' } });
  return { blob: `${CONTAINERS.models}/${blob}` };
}

export async function readPromotionRecord(model: string, promotionId: string): Promise<PromotionRecord | undefined> {
  return (await readJsonBlob<PromotionRecord>(CONTAINERS.models, promotionRecordPath(model, promotionId)))?.value;
}

export const PROMOTION_CHECK_ARTIFACTS_ACTIVITY = 'promotionCheckArtifacts';
export const PROMOTION_DEPLOY_ACTIVITY = 'promotionDeploy';
export const PROMOTION_READ_STATUS_ACTIVITY = 'promotionReadStatus';
export const PROMOTION_SMOKE_EVALUATION_ACTIVITY = 'promotionSmokeEvaluation';
export const PROMOTION_ROLLBACK_ACTIVITY = 'promotionRollback';
export const PROMOTION_RECORD_ACTIVITY = 'promotionRecord';

export const checkArtifactsActivity = defineActivity(PROMOTION_CHECK_ARTIFACTS_ACTIVITY, checkArtifacts);
export const deployActivity = defineActivity(PROMOTION_DEPLOY_ACTIVITY, deployModel);
export const readStatusActivity = defineActivity(PROMOTION_READ_STATUS_ACTIVITY, readModelStatus);
export const smokeEvaluationActivity = defineActivity(PROMOTION_SMOKE_EVALUATION_ACTIVITY, smokeEvaluation);
export const rollbackActivity = defineActivity(PROMOTION_ROLLBACK_ACTIVITY, rollbackModel);
export const recordActivity = defineActivity(PROMOTION_RECORD_ACTIVITY, recordPromotion);
