// Feedback linked to the model that served it, at read time: feedback that names a prediction's request id is
// joined with the inference log (the window reader: committed Parquet parts and raw blobs not compacted yet) on
// request_id, which gives the environment, model version and predicted label that answered. Nothing of the link is
// stored: the inference log stays free of message text, and the feedback container free of model details.
import { ENVIRONMENTS, Environment } from '../platform/blobLayout';
import { readWindow, WindowReadOptions } from '../logs/windowReader';
import { FeedbackRecord } from './feedbackRecord';
import { readFeedback } from './feedbackStore';

/** How long before the feedback window a prediction is looked for: users report mail days after it arrived. */
export const DEFAULT_LINK_LOOKBACK_MS = 7 * 24 * 3600_000;

export interface ModelFeedback {
  environment: Environment;
  model_name: string;
  model_version: string;
  /** Feedback records linked to a prediction of this model. */
  linked: number;
  /** Of those, the predicted label was not the user's. */
  disagreements: number;
  disagreement_rate: number;
  /** Predicted spam, the user says ham. */
  false_positives: number;
  /** Predicted ham, the user says spam. */
  false_negatives: number;
}

export interface FeedbackSummary {
  since: string;
  until: string;
  /** Predictions were looked for from `since` minus the lookback. */
  predictions_from: string;
  /** Feedback records received in [since, until), latest per message. */
  feedback: number;
  with_request_id: number;
  /** With a request id that matched a logged prediction. */
  linked: number;
  disagreements: number;
  by_model: ModelFeedback[];
}

export interface SummaryOptions {
  since: Date;
  until?: Date;
  lookbackMs?: number;
  /** The dataset to summarize; default readFeedback (tests pass records). */
  records?: readonly FeedbackRecord[];
  window?: Pick<WindowReadOptions, 'container' | 'tempDir'>;
}

interface Served {
  environment: Environment;
  model_name: string;
  model_version: string;
  prediction: string;
}

/** For each wanted request id, the prediction the inference log holds for it (scanning only the needed columns). */
export async function servedPredictions(
  requestIds: ReadonlySet<string>,
  from: Date,
  to: Date,
  window: SummaryOptions['window'] = {},
): Promise<Map<string, Served>> {
  const found = new Map<string, Served>();
  if (requestIds.size === 0) return found;
  for (const environment of ENVIRONMENTS) {
    for await (const batch of readWindow(environment, from, to, {
      ...window,
      columns: ['request_id', 'model_name', 'model_version', 'prediction'],
    })) {
      const ids = batch.text.request_id!;
      for (let i = 0; i < batch.rowCount; i++) {
        const id = ids[i];
        if (id === null || !requestIds.has(id)) continue;
        found.set(id, {
          environment,
          model_name: batch.text.model_name![i] ?? '',
          model_version: batch.text.model_version![i] ?? '',
          prediction: batch.text.prediction![i] ?? '',
        });
      }
    }
  }
  return found;
}

/**
 * How often the served model was wrong, by environment and model version, according to the feedback received in
 * [since, until): each feedback record (latest per message) whose request id matches a logged prediction counts once.
 */
export async function summarizeFeedback({
  since,
  until = new Date(),
  lookbackMs = DEFAULT_LINK_LOOKBACK_MS,
  records,
  window,
}: SummaryOptions): Promise<FeedbackSummary> {
  const all = records ?? (await readFeedback({ until }));
  const inRange = all.filter((r) => {
    const t = Date.parse(r.received_at);
    return t >= since.getTime() && t < until.getTime();
  });
  const withId = inRange.filter((r): r is FeedbackRecord & { request_id: string } => r.request_id !== undefined);
  const from = new Date(since.getTime() - lookbackMs);
  const served = await servedPredictions(new Set(withId.map((r) => r.request_id)), from, until, window);
  const byModel = new Map<string, ModelFeedback>();
  let linked = 0;
  let disagreements = 0;
  for (const r of withId) {
    const s = served.get(r.request_id);
    if (!s) continue;
    const key = `${s.environment}\u0000${s.model_name}\u0000${s.model_version}`;
    let m = byModel.get(key);
    if (!m) {
      m = {
        environment: s.environment,
        model_name: s.model_name,
        model_version: s.model_version,
        linked: 0,
        disagreements: 0,
        disagreement_rate: 0,
        false_positives: 0,
        false_negatives: 0,
      };
      byModel.set(key, m);
    }
    m.linked++;
    linked++;
    if (s.prediction !== r.label) {
      m.disagreements++;
      disagreements++;
      if (s.prediction === 'spam') m.false_positives++;
      else m.false_negatives++;
    }
  }
  const byModelList = [...byModel.values()]
    .map((m) => ({ ...m, disagreement_rate: Math.round((m.disagreements / m.linked) * 1e6) / 1e6 }))
    .sort(
      (a, b) =>
        a.environment.localeCompare(b.environment) ||
        a.model_name.localeCompare(b.model_name) ||
        a.model_version.localeCompare(b.model_version),
    );
  return {
    since: since.toISOString(),
    until: until.toISOString(),
    predictions_from: from.toISOString(),
    feedback: inRange.length,
    with_request_id: withId.length,
    linked,
    disagreements,
    by_model: byModelList,
  };
}
