// The retraining's dataset in Blob: the train step writes the feedback as of the cut-off as the run's snapshot; with
// TRAINING_DATA=blob the trainer reads the initial set and that snapshot from Blob, as a training Job would, and
// trains the challenger the package and the in-memory feedback give. The snapshot holds user mail: it goes when the
// run ends, and the next run deletes any other.
import { InvocationContext } from '@azure/functions';
import { challengerPrefix, CONTAINERS, feedbackSnapshotPrefix, retrainingHoldoutPath } from '../../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../../shared/platform/blobStorage';
import { COMMITTED_MODEL_VERSION, MODEL_NAME } from '../../../../shared/model/modelArtifacts';
import { deleteHoldoutActivity, trainActivity } from '../../../../shared/lifecycle/retraining/activities';
import { inProcessRetrainingBackend, localRetraining, startRetraining } from '../../../../shared/lifecycle/retraining/service';
import { retrainingTrainer } from '../../../../shared/lifecycle/retraining/trainer';
import { challengerVersion } from '../../../../shared/lifecycle/retraining/version';
import { DatasetUnavailableError, readFeedbackSnapshot, writeFeedbackSnapshot } from '../../../../shared/dataset/trainingDataset';
import { closeParquetEngine } from '../../../../shared/logs/parquet';
import { publishInitialSet } from '../../../../training/trainingData';
import { blobNames, CUTOFF, FEEDBACK_MESSAGES, useRetrainingStack } from '../../../helpers/retrainingStack';

jest.setTimeout(180_000);

const stack = useRetrainingStack();

afterAll(() => closeParquetEngine());

const version = challengerVersion(COMMITTED_MODEL_VERSION, CUTOFF);
const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

async function files(prefix: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const name of await blobNames(CONTAINERS.models, prefix))
    out.set(name, await getContainerClient(CONTAINERS.models).getBlobClient(name).downloadToBuffer());
  return out;
}

async function train(runId: string, trainingData: 'blob' | 'package'): Promise<string[]> {
  stack.setEnv({ TRAINING_DATA: trainingData });
  const lines: string[] = [];
  const context = new InvocationContext({ functionName: 'test', logHandler: (_level, ...args) => lines.push(args.join(' ')) });
  await trainActivity.handler({ runId, model: MODEL_NAME, version, cutoff: CUTOFF.toISOString(), holdoutFraction: 0.25 }, context);
  return lines;
}

test('with TRAINING_DATA=blob the challenger is trained on the initial set and the run snapshot, and is the same model', async () => {
  await publishInitialSet(MODEL_NAME, { overwrite: false });
  const blobLines = await train('retrain-blob', 'blob');
  expect(blobLines.join('\n')).toMatch(/corpus: \d+ messages from models\/datasets\/spam-detector\/initial\/ in Blob/);
  // The snapshot the trainer read holds the feedback as of the cut-off, one row per message.
  const snapshot = await readFeedbackSnapshot(MODEL_NAME, 'retrain-blob');
  expect(snapshot).toHaveLength(FEEDBACK_MESSAGES);
  expect(snapshot.every((m) => m.receivedAt < CUTOFF)).toBe(true);
  const fromBlob = await files(challengerPrefix(MODEL_NAME, version));
  const holdoutFromBlob = await files(retrainingHoldoutPath(MODEL_NAME, 'retrain-blob'));

  const packageLines = await train('retrain-package', 'package');
  expect(packageLines.join('\n')).toMatch(/corpus: \d+ messages from @stdlib\/datasets-spam-assassin/);
  const fromPackage = await files(challengerPrefix(MODEL_NAME, version));
  expect([...fromBlob.keys()]).toEqual([...fromPackage.keys()]);
  for (const [name, bytes] of fromPackage) expect({ name, same: fromBlob.get(name)!.equals(bytes) }).toEqual({ name, same: true });
  const holdoutFromPackage = await files(retrainingHoldoutPath(MODEL_NAME, 'retrain-package'));
  expect([...holdoutFromPackage.values()][0].equals([...holdoutFromBlob.values()][0])).toBe(true);

  // The end of a run deletes its snapshot with its held-out mail.
  expect(await deleteHoldoutActivity.handler({ model: MODEL_NAME, runId: 'retrain-blob' }, new InvocationContext())).toEqual({
    deleted: true,
    snapshotDeleted: true,
  });
  expect(await blobNames(CONTAINERS.feedback, feedbackSnapshotPrefix(MODEL_NAME, 'retrain-blob'))).toEqual([]);

  // What the blob trainer reads is the snapshot, not the messages in the request: without it, it cannot train.
  stack.setEnv({ TRAINING_DATA: 'blob' });
  await expect(
    retrainingTrainer().train(
      { model: MODEL_NAME, version, messages: snapshot, feedbackSnapshot: 'retrain-blob', holdoutFraction: 0.25 },
      () => undefined,
    ),
  ).rejects.toThrow(DatasetUnavailableError);
});

test('a run deletes its own snapshot when it ends and, in its gather step, those other runs left behind', async () => {
  stack.setEnv({ TRAINING_DATA: 'blob', RETRAIN_MIN_AUC_GAIN: '1' });
  await publishInitialSet(MODEL_NAME, { overwrite: false });
  // A snapshot of a run stopped from outside (its process killed), which never reached its end.
  await writeFeedbackSnapshot(MODEL_NAME, 'retrain-killed', CUTOFF, []);
  const runId = 'retrain-dataset';
  await startRetraining(inProcessRetrainingBackend(quiet), { trigger: 'http', requestedBy: 'test', runId, cutoff: CUTOFF });
  const record = await localRetraining(runId)!.done;
  expect(record.outcome).toBe('rejected');
  expect(record.steps.map((s) => s.step)).toContain('train');
  expect(await blobNames(CONTAINERS.feedback, feedbackSnapshotPrefix(MODEL_NAME))).toEqual([]);
});
