// The in-process trainer of the retraining's train step (shared/lifecycle/retraining/trainer.ts): `trainModel` with
// the feedback as additional messages, and MLflow registration of a published version where it is configured. The
// local host, the CLI and tests register it; the Function App does not deploy training/.
import type { RetrainingTrainer } from '../shared/lifecycle/retraining/trainer';
import { getConfig } from '../shared/platform/config';
import { registerWithMlflowIfConfigured } from './mlflowRegistry';
import { TrainOptions, trainModel } from './trainModel';
import { retrainingFeedback } from './trainingData';

/**
 * `options`: trainer settings beyond the request (tests train on a subsample of the corpus). With TRAINING_DATA=blob
 * (or `options.trainingData`) it reads what a training Job would: the initial set and the run's feedback snapshot.
 */
export function inProcessTrainer(options: Partial<TrainOptions> = {}): RetrainingTrainer {
  return {
    description: `in-process trainModel${options.subsample && options.subsample > 1 ? ` (every ${options.subsample}th corpus message)` : ''}`,
    async train(request, progress) {
      const trainingData = options.trainingData ?? getConfig().trainingData;
      const result = await trainModel(
        {
          ...options,
          name: request.model,
          version: request.version,
          additionalMessages: await retrainingFeedback(trainingData, request),
          holdoutFraction: request.holdoutFraction,
          trainingData,
        },
        progress,
      );
      return { card: result.card, files: result.files, holdout: result.holdout ?? [] };
    },
    async registerPublished(card, progress) {
      const registered = await registerWithMlflowIfConfigured(card, progress);
      return registered ? JSON.stringify(registered) : undefined;
    },
  };
}
