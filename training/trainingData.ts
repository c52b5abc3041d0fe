// Where training reads its data: the corpus package, or the training dataset in Blob (shared/dataset/
// trainingDataset.ts), chosen by TRAINING_DATA. Both give the same messages in the same order (ids, bytes, labels,
// times), so a model trained on either is the same model, byte for byte.
import {
  DATASET_METADATA_KEYS,
  DatasetMessage,
  DatasetUnavailableError,
  publishDatasetPart,
  readDatasetBlobs,
  readFeedbackSnapshot,
  UploadedPart,
} from '../shared/dataset/trainingDataset';
import { CONTAINERS, datasetPartName, initialDatasetPrefix } from '../shared/platform/blobLayout';
import type { LabelledMessage } from '../shared/lifecycle/retraining/types';
import { CORPUS_DESCRIPTION, CORPUS_GROUPS, CORPUS_PACKAGE, CorpusGroup, CorpusMessage, loadCorpus } from './corpus';

export type TrainingDataSource = 'package' | 'blob';

/** The initial training set: the corpus, whole (the trainer splits it itself). */
export interface InitialSet {
  readonly messages: readonly CorpusMessage[];
  /** What the messages are: the card's `training.corpus`. */
  readonly description: string;
  /** Where they were read from, for progress lines. */
  readonly origin: string;
}

/** The initial set as stored rows: every corpus message in the package's order. */
export function corpusDatasetRows(corpus: readonly CorpusMessage[]): DatasetMessage[] {
  return corpus.map((m) => ({ id: m.id, source: 'corpus', group: m.group, spam: m.spam, raw: m.raw, receivedAt: m.receivedAt }));
}

/** Write the corpus as the initial set, `datasets/{model}/initial/part-00000.parquet` in the models container. */
export async function publishInitialSet(
  model: string,
  options: { overwrite: boolean; progress?: (line: string) => void },
): Promise<UploadedPart & { rows: number }> {
  const started = performance.now();
  const corpus = loadCorpus();
  const bytes = corpus.reduce((sum, m) => sum + m.raw.length, 0);
  options.progress?.(
    `read ${corpus.length} messages (${(bytes / 1e6).toFixed(1)} MB of mail) from ${CORPUS_PACKAGE} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
  return publishDatasetPart(
    corpusDatasetRows(corpus),
    {
      container: CONTAINERS.models,
      blob: initialDatasetPrefix(model) + datasetPartName(0),
      metadata: { [DATASET_METADATA_KEYS.corpus]: CORPUS_DESCRIPTION },
      overwrite: options.overwrite,
    },
    options.progress,
  );
}

function corpusMessage(m: DatasetMessage, where: string): CorpusMessage {
  if (m.source !== 'corpus' || !(CORPUS_GROUPS as readonly string[]).includes(m.group))
    throw new DatasetUnavailableError(`${where}: ${m.id} is not a corpus message (source ${m.source}, group ${m.group})`);
  return { id: m.id, group: m.group as CorpusGroup, spam: m.spam, raw: m.raw, receivedAt: m.receivedAt };
}

/** The initial set from `source`; the model name locates it in Blob. */
export async function loadInitialSet(source: TrainingDataSource, model: string): Promise<InitialSet> {
  if (source === 'package') return { messages: loadCorpus(), description: CORPUS_DESCRIPTION, origin: CORPUS_PACKAGE };
  const prefix = initialDatasetPrefix(model);
  let stored;
  try {
    stored = await readDatasetBlobs(CONTAINERS.models, prefix);
  } catch (err) {
    if (err instanceof DatasetUnavailableError)
      throw new DatasetUnavailableError(`${err.message}: publish it with npm run dataset:publish`);
    throw err;
  }
  const where = stored.parts.join(', ');
  const description = stored.metadata[DATASET_METADATA_KEYS.corpus];
  if (!description) throw new DatasetUnavailableError(`${where}: no '${DATASET_METADATA_KEYS.corpus}' in its metadata`);
  return {
    messages: stored.messages.map((m) => corpusMessage(m, where)),
    description,
    origin: `${CONTAINERS.models}/${prefix} in Blob (${stored.parts.length} part${stored.parts.length === 1 ? '' : 's'}, ${(stored.bytes / 1e6).toFixed(1)} MB)`,
  };
}

/** A retraining's feedback: from its snapshot in Blob, or as the train step handed it over. */
export async function retrainingFeedback(
  source: TrainingDataSource,
  request: { model: string; messages: readonly LabelledMessage[]; feedbackSnapshot: string },
): Promise<readonly LabelledMessage[]> {
  return source === 'blob' ? readFeedbackSnapshot(request.model, request.feedbackSnapshot) : request.messages;
}
