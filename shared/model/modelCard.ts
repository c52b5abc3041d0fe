// The model card (`model.json` beside `model.onnx`): what the model is, the 50 features it expects (names and
// descriptions), its token table, how it was trained and on what data, every evaluation figure, and the decision
// threshold with how it was chosen. Serving reads `name`, `version`, `features`, `threshold`; people read the rest.
import { z } from 'zod';
import { FEATURE_NAMES } from '../serving/features/featureList';

export const MODEL_CARD_SCHEMA_VERSION = 1 as const;

const featureSchema = z.object({ name: z.string(), description: z.string(), group: z.string() });

export const classificationMetricsSchema = z.object({
  rows: z.number().int(),
  spam: z.number().int(),
  ham: z.number().int(),
  rocAuc: z.number(),
  /** At the card's threshold. */
  threshold: z.number(),
  spamRecall: z.number(),
  hamFalsePositiveRate: z.number(),
  precision: z.number(),
  accuracy: z.number(),
  f1: z.number(),
  logLoss: z.number(),
  confusion: z.object({ tp: z.number().int(), fp: z.number().int(), tn: z.number().int(), fn: z.number().int() }),
  /**
   * Diagnostic only: the spam recall at the card's target ham FPR with the threshold picked on this same set (an
   * oracle no deployment has), i.e. a point of this set's ROC curve; the threshold of the model is the card's.
   */
  oracleSpamRecallAtTargetHamFpr: z.number().optional(),
});

export type ClassificationMetrics = z.infer<typeof classificationMetricsSchema>;

const rowsSummarySchema = z.object({
  rows: z.number().int(),
  spam: z.number().int(),
  ham: z.number().int(),
  groups: z.record(z.string(), z.number().int()),
  receivedFrom: z.string().nullable(),
  receivedTo: z.string().nullable(),
});

/**
 * Which rows the drift baseline holds, and the held-out rows of the same period that the replay sends instead
 * (disjoint: a healthy replay of the baseline's own rows would prove nothing beyond the absence of skew).
 */
export const baselineRowSelectionSchema = z.object({
  method: z.string(),
  seed: z.number().int(),
  baselineRows: rowsSummarySchema,
  replayRows: rowsSummarySchema,
});

const formMetricsSchema = z.object({ raw: classificationMetricsSchema, structured: classificationMetricsSchema });

/**
 * How the model scores the API's two input forms: the same held-out messages sent raw and as their structured
 * projection (no transport headers, text body only), and short ordinary mail in the structured form. Cards of
 * models trained before the structured form was measured have no such section.
 */
export const inputFormsSchema = z.object({
  structuredProjection: z.string(),
  fitForms: z.enum(['raw', 'both']),
  validationForms: z.enum(['raw', 'both']),
  timeForwardTest: formMetricsSchema,
  timeForwardValidation: formMetricsSchema,
  shortHamExamples: z.array(
    z.object({ name: z.string(), senderFeatures: z.string(), spamProbability: z.number(), prediction: z.enum(['ham', 'spam']) }),
  ),
});

export type InputFormsSection = z.infer<typeof inputFormsSchema>;

const modelScoreSchema = z.object({ version: z.string(), threshold: z.number(), metrics: classificationMetricsSchema });

export const retrainingSectionSchema = z.object({
  runId: z.string(),
  cutoff: z.string(),
  champion: modelScoreSchema,
  challenger: modelScoreSchema,
  holdout: z.object({
    rows: z.number().int(),
    spam: z.number().int(),
    ham: z.number().int(),
    feedback: z.number().int(),
    receivedFrom: z.string().nullable(),
    receivedTo: z.string().nullable(),
    heldOut: z.number().int().optional(),
    championSeen: z.number().int().optional(),
    optimisticForChampion: z.boolean().optional(),
  }),
  gate: z.object({
    passed: z.boolean(),
    aucGain: z.number(),
    hamFprIncrease: z.number(),
    spamRecallDrop: z.number(),
    minAucGain: z.number(),
    minHamFprDecrease: z.number().optional(),
    maxHamFprIncrease: z.number(),
    maxSpamRecallDrop: z.number(),
    reasons: z.array(z.string()),
  }),
});

/**
 * The card's metrics on the promotion's smoke evaluation set, where that set is not the card's own test part (a
 * retrained model is tested on the newest feedback): what the smoke evaluation compares the gateway's answers with.
 */
export const SMOKE_METRICS_KEY = 'smokeEvaluationSet';

export const modelCardSchema = z.object({
  schemaVersion: z.literal(MODEL_CARD_SCHEMA_VERSION),
  name: z.string().min(1),
  version: z.string().min(1),
  /** ISO time; deterministic (see `createdFrom`) so that retraining gives byte-identical artifacts. */
  created: z.string(),
  createdFrom: z.string(),
  description: z.string(),
  signature: z.object({
    input: z.object({ name: z.string(), datatype: z.literal('FP32'), shape: z.tuple([z.literal(-1), z.number().int()]) }),
    output: z.object({
      name: z.string(),
      datatype: z.literal('FP32'),
      shape: z.tuple([z.literal(-1), z.literal(2)]),
      classes: z.tuple([z.literal('ham'), z.literal('spam')]),
    }),
  }),
  features: z.array(featureSchema),
  files: z.object({
    onnx: z.string(),
    tokens: z.string(),
    triton: z.string(),
    baseline: z.string(),
    sha256: z.record(z.string(), z.string()),
  }),
  threshold: z.object({
    value: z.number().min(0).max(1),
    targetHamFalsePositiveRate: z.number(),
    chosenOn: z.string(),
    validationRows: z.number().int(),
    validationHamFalsePositiveRate: z.number(),
    validationSpamRecall: z.number(),
  }),
  training: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), classificationMetricsSchema),
  baseline: z
    .object({
      path: z.string().optional(),
      referenceRows: z.string().optional(),
      rows: z.number().int().optional(),
      sampleSize: z.number().int().optional(),
      rowSelection: baselineRowSelectionSchema.optional(),
      replay: z.string().optional(),
    })
    .catchall(z.unknown()),
  inputForms: inputFormsSchema.optional(),
  /**
   * A retrained model's comparison with the champion on the held-out newest labelled mail, and the gate's verdict
   * (shared/lifecycle/retraining/). Cards of models trained by `npm run train` have none.
   */
  retraining: retrainingSectionSchema.optional(),
  /** Figures that explain the metrics (error analysis); never used for any choice. */
  diagnostics: z.record(z.string(), z.unknown()).optional(),
});

export type ModelCard = z.infer<typeof modelCardSchema>;

/** The card does not describe a model this code can serve. */
export class ModelCardError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelCardError';
  }
}

/** Validate a parsed `model.json` and refuse a model whose feature list differs from FEATURE_NAMES. */
export function parseModelCard(json: unknown, source = 'model.json'): ModelCard {
  const parsed = modelCardSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ModelCardError(`${source}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const card = parsed.data;
  assertSameFeatures(
    card.features.map((f) => f.name),
    source,
  );
  return card;
}

/** Throws unless `names` is exactly FEATURE_NAMES, in order (no training/serving skew). */
export function assertSameFeatures(names: readonly string[], source: string): void {
  if (names.length === FEATURE_NAMES.length && names.every((n, i) => n === FEATURE_NAMES[i])) return;
  const firstDiff = FEATURE_NAMES.findIndex((n, i) => names[i] !== n);
  const detail =
    names.length !== FEATURE_NAMES.length
      ? `it lists ${names.length} features, this code computes ${FEATURE_NAMES.length}`
      : `feature ${firstDiff} is '${names[firstDiff]}', this code computes '${FEATURE_NAMES[firstDiff]}' there`;
  throw new ModelCardError(`${source}: the model's feature list differs from this code's (${detail}); refusing to serve it`);
}
