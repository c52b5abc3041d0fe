// The trainer the retraining's train step calls. Training code lives in training/, which the Function App does not
// deploy and shared code never imports, so a process that can train registers the in-process trainer here
// (training/retrainingTrainer.ts: the local host, the CLI, tests). RETRAIN_TRAINER=kubernetes-job names the Azure
// path, a training Job on AKS that writes the same result to Blob; it is not built yet.
import { ConfigError, getConfig } from '../../platform/config';
import { MisconfiguredError } from '../../platform/errors';
import type { ModelCard } from '../../model/modelCard';
import type { HoldoutRow, LabelledMessage } from './types';

export interface TrainChallengerRequest {
  model: string;
  version: string;
  /** Labelled mail beyond the corpus's training period: the feedback up to the cut-off. */
  messages: readonly LabelledMessage[];
  /** The same feedback as the snapshot the train step wrote to Blob (shared/dataset/trainingDataset.ts): its id. */
  feedbackSnapshot: string;
  holdoutFraction: number;
}

export interface TrainedChallenger {
  card: ModelCard;
  /** `{model}/{version}/...` and `baselines/{model}/{version}/baseline.json` → bytes, as `npm run train` writes them. */
  files: ReadonlyMap<string, Buffer>;
  holdout: readonly HoldoutRow[];
}

export interface RetrainingTrainer {
  /** Names the trainer in records and logs. */
  readonly description: string;
  train(request: TrainChallengerRequest, progress: (line: string) => void): Promise<TrainedChallenger>;
  /** Register a published version in the model registry where one is configured (MLflow); what it did, if anything. */
  registerPublished?(card: ModelCard, progress: (line: string) => void): Promise<string | undefined>;
}

let registered: RetrainingTrainer | undefined;

/** Sets (or, with undefined, clears) the in-process trainer. */
export function registerRetrainingTrainer(trainer: RetrainingTrainer | undefined): void {
  registered = trainer;
}

/** The trainer RETRAIN_TRAINER names; a clear 503 when it is not available here. */
export function retrainingTrainer(): RetrainingTrainer {
  const kind = getConfig().retrainTrainer;
  if (kind === 'kubernetes-job') {
    throw new ConfigError('RETRAIN_TRAINER', kind, "'in-process': the training Job on Kubernetes is not built yet (docs/retraining.md)");
  }
  if (!registered) {
    throw new MisconfiguredError(
      'retraining needs a trainer: RETRAIN_TRAINER is in-process, but this process registered none (the Function App does not deploy training/; run the retraining where the trainer is registered: npm start, the CLI)',
    );
  }
  return registered;
}
