// The retraining's activities: JSON in, JSON out, each safe to run again (the same run id and cut-off give the same
// challenger, written to the same place). functions/retrainOrchestrator.ts registers them; the in-process runner
// calls the same handlers.
import { gunzipSync, gzipSync } from 'node:zlib';
import type { InvocationContext } from '@azure/functions';
import {
  baselinePath,
  challengerPrefix,
  CONTAINERS,
  modelPrefix,
  retrainingHoldoutPath,
  retrainingRecordPath,
  retrainingsPrefix,
} from '../../platform/blobLayout';
import { downloadBuffer, ensureContainers, getContainerClient, isBlobNotFound, readJsonBlob } from '../../platform/blobStorage';
import { defineActivity } from '../../platform/workflow/activity';
import { BASELINE_FILE, loadModelFromBlobPrefix, LoadedModel, MODEL_FILES, modelFileContentType } from '../../model/modelArtifacts';
import { ModelCard, parseModelCard } from '../../model/modelCard';
import { classificationMetrics } from '../../model/metrics';
import { readFeedback } from '../../feedback/feedbackStore';
import { deleteFeedbackSnapshots, writeFeedbackSnapshot } from '../../dataset/trainingDataset';
import { parseEmail } from '../../serving/features/email';
import { tokenize } from '../../serving/features/tokenizer';
import { featuresFromTokens } from '../../serving/features/transformer';
import { FEATURE_NAMES } from '../../serving/features/featureList';
import { inferenceServiceName, inferenceServices } from '../promotion/activities';
import { promotionBackend } from '../promotion/http';
import { startPromotion } from '../promotion/service';
import { pseudonymizeSenderDomains } from './cardPrivacy';
import { holdoutRowsToScore, trainedUntil } from './holdout';
import { retrainingTrainer } from './trainer';
import { Comparison, FeedbackSummary, GateDecision, HoldoutRow, LabelledMessage, ModelScore, RetrainingRecord } from './types';

/** The version production serves now, as its InferenceService says (what a promotion deployed there last). */
export async function servedProductionVersion(): Promise<string> {
  const status = await inferenceServices().getStatus(inferenceServiceName('production'));
  if (!status.modelVersion) throw new Error(`the production InferenceService ${status.name} names no model version`);
  return status.modelVersion;
}

/** The labelled feedback as of the cut-off, as messages with the time each was received. */
export async function feedbackMessages(cutoff: Date): Promise<LabelledMessage[]> {
  const records = await readFeedback({ until: cutoff });
  return records.map((r) => ({
    id: r.message_key,
    raw: Buffer.from(r.message, 'base64'),
    spam: r.label === 'spam',
    receivedAt: new Date(r.received_at),
  }));
}

function summarize(messages: readonly LabelledMessage[]): FeedbackSummary {
  const times = messages.map((m) => m.receivedAt.getTime());
  return {
    messages: messages.length,
    spam: messages.filter((m) => m.spam).length,
    ham: messages.filter((m) => !m.spam).length,
    receivedFrom: times.length ? new Date(Math.min(...times)).toISOString() : null,
    receivedTo: times.length ? new Date(Math.max(...times)).toISOString() : null,
  };
}

export interface Gathered {
  champion: string;
  feedback: FeedbackSummary;
}

/**
 * What the run starts from. Fails before any training when the run could not finish: no trainer here, or a
 * promotion still running (a winner could not be promoted; the production InferenceService may be about to change).
 */
export async function gather(input: { model: string; runId: string; cutoff: string }, context: InvocationContext): Promise<Gathered> {
  retrainingTrainer();
  const promotions = await promotionBackend(context).running();
  if (promotions.length) throw new Error(`promotion ${promotions[0]} is still running; retrain when it has finished`);
  await deleteOrphanedHoldouts(input.model, input.runId);
  await deleteFeedbackSnapshots(input.model, { except: input.runId });
  const [champion, messages] = await Promise.all([servedProductionVersion(), feedbackMessages(new Date(input.cutoff))]);
  return { champion, feedback: summarize(messages) };
}

/**
 * Held-out mail of other runs: a run deletes its own when it ends, but one stopped from outside (terminated, its
 * process killed) never ends. Only one retraining runs at a time, and this one is it, so any other is an orphan.
 */
async function deleteOrphanedHoldouts(model: string, runId: string): Promise<string[]> {
  const container = getContainerClient(CONTAINERS.models);
  const prefix = retrainingsPrefix(model);
  const deleted: string[] = [];
  try {
    for await (const blob of container.listBlobsFlat({ prefix })) {
      const owner = blob.name.slice(prefix.length).split('/')[0];
      if (owner === runId || blob.name !== retrainingHoldoutPath(model, owner)) continue;
      await container.deleteBlob(blob.name).catch(() => undefined);
      deleted.push(blob.name);
    }
  } catch (err) {
    // No models container yet: nothing was left behind.
    if (!isBlobNotFound(err)) throw err;
  }
  return deleted;
}

/** Delete the run's held-out mail and its feedback snapshot (feedback messages: feedback erasure must reach every copy). */
export async function deleteHoldout(input: { model: string; runId: string }): Promise<{ deleted: boolean; snapshotDeleted: boolean }> {
  const blob = getContainerClient(CONTAINERS.models).getBlobClient(retrainingHoldoutPath(input.model, input.runId));
  const snapshot = await deleteFeedbackSnapshots(input.model, { only: input.runId });
  return { deleted: (await blob.deleteIfExists()).succeeded, snapshotDeleted: snapshot.length > 0 };
}

export interface TrainInput {
  runId: string;
  model: string;
  version: string;
  cutoff: string;
  holdoutFraction: number;
}

export interface Trained {
  version: string;
  prefix: string;
  trainer: string;
  holdoutPath: string;
  holdoutRows: number;
  threshold: number;
}

async function putBlob(container: string, name: string, bytes: Buffer, contentType: string): Promise<void> {
  await getContainerClient(container)
    .getBlockBlobClient(name)
    .uploadData(bytes, { blobHTTPHeaders: { blobContentType: contentType } });
}

/** A card as training writes it (indented JSON and a newline). */
const cardBytes = (card: ModelCard) => Buffer.from(`${JSON.stringify(card, null, 2)}\n`, 'utf8');

/**
 * Train the challenger on the corpus's training period plus the feedback up to the cut-off, and keep its files under
 * challengers/ (never a path an InferenceService reads). The held-out rows go to the run's scratch blob.
 */
export async function trainChallenger(input: TrainInput, context: InvocationContext): Promise<Trained> {
  const trainer = retrainingTrainer();
  const messages = await feedbackMessages(new Date(input.cutoff));
  // The dataset a trainer reads from Blob: the initial set and this snapshot, named by the run (deleted when it ends).
  await writeFeedbackSnapshot(input.model, input.runId, new Date(input.cutoff), messages);
  const result = await trainer.train(
    { model: input.model, version: input.version, messages, feedbackSnapshot: input.runId, holdoutFraction: input.holdoutFraction },
    (line) => context.log(`[retraining ${input.runId}] ${line}`),
  );
  await ensureContainers([CONTAINERS.models]);
  const prefix = challengerPrefix(input.model, input.version);
  const baselineName = `${CONTAINERS.baselines}/${baselinePath(input.model, input.version)}`;
  const cardName = modelPrefix(input.model, input.version) + MODEL_FILES.card;
  for (const [rel, bytes] of result.files) {
    // The baseline stays beside the model here: only registration puts it where it activates drift checks.
    const name = rel === baselineName ? prefix + BASELINE_FILE : prefix + rel.slice(modelPrefix(input.model, input.version).length);
    // The card goes wherever the model goes (registry, MLflow): no sender domain of the feedback in clear.
    const content = rel === cardName ? cardBytes(pseudonymizeSenderDomains(result.card)) : bytes;
    await putBlob(CONTAINERS.models, name, content, modelFileContentType(name));
  }
  const holdoutPath = retrainingHoldoutPath(input.model, input.runId);
  const lines = result.holdout.map((r) => JSON.stringify({ ...r, raw: r.raw.toString('base64') })).join('\n');
  await putBlob(CONTAINERS.models, holdoutPath, gzipSync(Buffer.from(lines, 'utf8')), 'application/gzip');
  return {
    version: input.version,
    prefix: `${CONTAINERS.models}/${prefix}`,
    trainer: trainer.description,
    holdoutPath,
    holdoutRows: result.holdout.length,
    threshold: result.card.threshold.value,
  };
}

async function loadHoldout(path: string): Promise<HoldoutRow[]> {
  const bytes = await downloadBuffer(CONTAINERS.models, path);
  if (!bytes) throw new Error(`the run's held-out mail ${CONTAINERS.models}/${path} is missing`);
  return gunzipSync(bytes)
    .toString('utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const r = JSON.parse(line) as Omit<HoldoutRow, 'raw'> & { raw: string };
      return { ...r, raw: Buffer.from(r.raw, 'base64') };
    });
}

/** A model's figures on the held-out rows: features as the gateway computes them with its own token table. */
async function scoreModel(model: LoadedModel, rows: readonly HoldoutRow[]): Promise<ModelScore> {
  const flat = new Float32Array(rows.length * FEATURE_NAMES.length);
  for (const [i, row] of rows.entries()) {
    const email = await parseEmail({ raw: row.raw });
    flat.set(featuresFromTokens(email, tokenize(email), model.tokens, row.sender), i * FEATURE_NAMES.length);
  }
  const probabilities = rows.length ? await model.onnx.predict(flat) : new Float32Array();
  const spam = Float64Array.from(rows, (_, i) => probabilities[2 * i + 1]);
  const threshold = model.card.threshold.value;
  return {
    version: model.card.version,
    threshold,
    metrics: classificationMetrics(
      spam,
      Uint8Array.from(rows, (r) => (r.spam ? 1 : 0)),
      threshold,
    ),
  };
}

/** Champion and challenger on the same held-out newest mail, each at its own card threshold. */
export async function compareModels(input: {
  model: string;
  champion: string;
  challenger: string;
  holdoutPath: string;
}): Promise<Comparison> {
  const rows = await loadHoldout(input.holdoutPath);
  const champion = await loadModelFromBlobPrefix(modelPrefix(input.model, input.champion));
  const challenger = await loadModelFromBlobPrefix(challengerPrefix(input.model, input.challenger));
  try {
    const { scored, championSeen, optimisticForChampion } = holdoutRowsToScore(rows, trainedUntil(champion.card));
    const times = scored.flatMap((r) => (r.receivedAt ? [Date.parse(r.receivedAt)] : []));
    return {
      holdout: {
        rows: scored.length,
        spam: scored.filter((r) => r.spam).length,
        ham: scored.filter((r) => !r.spam).length,
        feedback: scored.filter((r) => r.id.startsWith('feedback/')).length,
        receivedFrom: times.length ? new Date(Math.min(...times)).toISOString() : null,
        receivedTo: times.length ? new Date(Math.max(...times)).toISOString() : null,
        heldOut: rows.length,
        championSeen,
        optimisticForChampion,
      },
      champion: await scoreModel(champion, scored),
      challenger: await scoreModel(challenger, scored),
    };
  } finally {
    await Promise.all([champion.onnx.close(), challenger.onnx.close()]);
  }
}

/** The challenger's card with the comparison that decided its fate, in its challengers/ folder. */
export async function recordChallenger(input: {
  model: string;
  version: string;
  runId: string;
  cutoff: string;
  comparison: Comparison;
  gate: GateDecision;
}): Promise<{ card: string }> {
  const name = challengerPrefix(input.model, input.version) + MODEL_FILES.card;
  const bytes = await downloadBuffer(CONTAINERS.models, name);
  if (!bytes) throw new Error(`${CONTAINERS.models}/${name} is missing`);
  const card: ModelCard = parseModelCard(JSON.parse(bytes.toString('utf8')), `${CONTAINERS.models}/${name}`);
  card.retraining = {
    runId: input.runId,
    cutoff: input.cutoff,
    champion: input.comparison.champion,
    challenger: input.comparison.challenger,
    holdout: input.comparison.holdout,
    gate: input.gate,
  };
  await putBlob(CONTAINERS.models, name, cardBytes(card), 'application/json');
  return { card: `${CONTAINERS.models}/${name}` };
}

/**
 * Register the winner: its files from challengers/ to models/{model}/{version}/, then the baseline to baselines/
 * (that upload activates it for drift checks, so it goes last), then the model registry where one is configured.
 */
export async function registerChallenger(
  input: { model: string; version: string; runId: string },
  context: InvocationContext,
): Promise<NonNullable<RetrainingRecord['registered']>> {
  const source = challengerPrefix(input.model, input.version);
  // A rerun with the same champion and cut-off names the same version: never write over one that is registered
  // (a promotion may be serving it), and tell the orchestrator, so that its clean-up does not delete it either.
  const anyModelFile = await getContainerClient(CONTAINERS.models)
    .listBlobsFlat({ prefix: modelPrefix(input.model, input.version) })
    .next();
  const baselineExists = await getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath(input.model, input.version)).exists();
  if (!anyModelFile.done || baselineExists) return { uploaded: [], alreadyRegistered: true };
  const uploaded: string[] = [];
  let card: ModelCard | undefined;
  for (const file of Object.values(MODEL_FILES)) {
    const bytes = await downloadBuffer(CONTAINERS.models, source + file);
    if (!bytes) throw new Error(`${CONTAINERS.models}/${source}${file} is missing`);
    if (file === MODEL_FILES.card) card = parseModelCard(JSON.parse(bytes.toString('utf8')));
    const target = modelPrefix(input.model, input.version) + file;
    await putBlob(CONTAINERS.models, target, bytes, modelFileContentType(target));
    uploaded.push(`${CONTAINERS.models}/${target}`);
  }
  const baseline = await downloadBuffer(CONTAINERS.models, source + BASELINE_FILE);
  if (!baseline) throw new Error(`${CONTAINERS.models}/${source}${BASELINE_FILE} is missing`);
  await ensureContainers([CONTAINERS.baselines]);
  await putBlob(CONTAINERS.baselines, baselinePath(input.model, input.version), baseline, 'application/json');
  uploaded.push(`${CONTAINERS.baselines}/${baselinePath(input.model, input.version)}`);
  const mlflow = await retrainingTrainer().registerPublished?.(card!, (line) => context.log(`[retraining ${input.runId}] ${line}`));
  return { uploaded, ...(mlflow ? { mlflow } : {}) };
}

/** Undo a registration that failed half-way: no version may be left in models/ without its baseline, or the reverse. */
export async function unregisterChallenger(input: { model: string; version: string }): Promise<{ deleted: string[] }> {
  const deleted: string[] = [];
  const models = getContainerClient(CONTAINERS.models);
  for await (const blob of models.listBlobsFlat({ prefix: modelPrefix(input.model, input.version) })) {
    await models.deleteBlob(blob.name).catch(() => undefined);
    deleted.push(`${CONTAINERS.models}/${blob.name}`);
  }
  const baseline = getContainerClient(CONTAINERS.baselines).getBlobClient(baselinePath(input.model, input.version));
  if ((await baseline.deleteIfExists()).succeeded) deleted.push(`${CONTAINERS.baselines}/${baselinePath(input.model, input.version)}`);
  return { deleted };
}

/** Start the promotion of the registered version (approved by the retraining itself when the run says so). */
export async function promoteChallenger(
  input: { version: string; runId: string; autoApprove: boolean },
  context: InvocationContext,
): Promise<{ promotionId: string }> {
  const started = await startPromotion(promotionBackend(context), input.version, `retraining ${input.runId}`, new Date(), {
    autoApprove: input.autoApprove,
  });
  return { promotionId: started.promotionId };
}

export async function writeRetrainingRecord(record: RetrainingRecord): Promise<{ blob: string }> {
  await ensureContainers([CONTAINERS.models]);
  const blob = retrainingRecordPath(record.model, record.runId);
  await putBlob(CONTAINERS.models, blob, Buffer.from(JSON.stringify(record, null, 2), 'utf8'), 'application/json');
  return { blob: `${CONTAINERS.models}/${blob}` };
}

export async function readRetrainingRecord(model: string, runId: string): Promise<RetrainingRecord | undefined> {
  return (await readJsonBlob<RetrainingRecord>(CONTAINERS.models, retrainingRecordPath(model, runId)))?.value;
}

export const RETRAIN_GATHER_ACTIVITY = 'retrainGather';
export const RETRAIN_TRAIN_ACTIVITY = 'retrainTrain';
export const RETRAIN_COMPARE_ACTIVITY = 'retrainCompare';
export const RETRAIN_RECORD_CHALLENGER_ACTIVITY = 'retrainRecordChallenger';
export const RETRAIN_REGISTER_ACTIVITY = 'retrainRegister';
export const RETRAIN_UNREGISTER_ACTIVITY = 'retrainUnregister';
export const RETRAIN_PROMOTE_ACTIVITY = 'retrainPromote';
export const RETRAIN_DELETE_HOLDOUT_ACTIVITY = 'retrainDeleteHoldout';
export const RETRAIN_RECORD_ACTIVITY = 'retrainRecord';

export const gatherActivity = defineActivity(RETRAIN_GATHER_ACTIVITY, gather);
export const trainActivity = defineActivity(RETRAIN_TRAIN_ACTIVITY, trainChallenger);
export const compareActivity = defineActivity(RETRAIN_COMPARE_ACTIVITY, compareModels);
export const recordChallengerActivity = defineActivity(RETRAIN_RECORD_CHALLENGER_ACTIVITY, recordChallenger);
export const registerActivity = defineActivity(RETRAIN_REGISTER_ACTIVITY, registerChallenger);
export const unregisterActivity = defineActivity(RETRAIN_UNREGISTER_ACTIVITY, unregisterChallenger);
export const promoteActivity = defineActivity(RETRAIN_PROMOTE_ACTIVITY, promoteChallenger);
export const deleteHoldoutActivity = defineActivity(RETRAIN_DELETE_HOLDOUT_ACTIVITY, deleteHoldout);
export const recordActivity = defineActivity(RETRAIN_RECORD_ACTIVITY, writeRetrainingRecord);
