// Training is reproducible: two runs with the same seed give byte-identical artifacts, and the defaults give
// exactly the committed model (what `npm run train` writes). The card records every figure; the exported ONNX
// reproduces the training code's probabilities.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runTrainCli } from '../../../tools/cli/train';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { getContainerClient } from '../../../shared/platform/blobStorage';
import { baselineReplaySplit, loadCorpus, timeForwardSplit } from '../../../training/corpus';
import { validateBaseline } from '../../../shared/drift/baseline';
import { FEATURE_NAMES } from '../../../shared/serving/features/featureList';
import { COMMITTED_MODEL_VERSION, localModelsRoot } from '../../../shared/model/modelArtifacts';
import { TrainingResult, trainModel } from '../../../training/trainModel';
import { startTestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

jest.setTimeout(300_000);

let first: TrainingResult;
let second: TrainingResult;
const progress: string[] = [];

beforeAll(async () => {
  first = await trainModel({}, (line) => progress.push(line));
  second = await trainModel({});
});

it('prints progress lines while it trains', () => {
  expect(progress.some((l) => /^parsed 6046\/6046 messages/.test(l))).toBe(true);
  expect(progress.some((l) => /^time-forward: L2 .*test ROC AUC/.test(l))).toBe(true);
  expect(progress.some((l) => /^ONNX check: \d+ rows/.test(l))).toBe(true);
});

it('gives byte-identical artifacts when trained twice with the same seed', () => {
  expect([...second.files.keys()]).toEqual([...first.files.keys()]);
  for (const [name, bytes] of first.files) expect({ name, same: second.files.get(name)!.equals(bytes) }).toEqual({ name, same: true });
});

it('reproduces the committed model under models/ byte for byte', () => {
  const root = localModelsRoot();
  for (const [name, bytes] of first.files) {
    const committed = fs.readFileSync(path.join(root, name));
    expect({ name, same: committed.equals(bytes) }).toEqual({ name, same: true });
  }
});

it('checks the exported ONNX against the training code to 1e-6', () => {
  expect(first.maxOnnxDifference).toBeLessThanOrEqual(1e-6);
  expect(first.card.training.onnxMaxAbsDifference).toBe(first.maxOnnxDifference);
});

it('records the split, the threshold and every figure in the card', () => {
  const { card } = first;
  expect(Object.keys(card.metrics).sort()).toEqual(['randomTest', 'randomValidation', 'timeForwardTest', 'timeForwardValidation']);
  type Rows = { rows: number; receivedFrom: string; receivedTo: string };
  const split = card.training.split as { kind: string; fit: Rows; validation: Rows; test: Rows };
  expect(split.kind).toBe('time-forward');
  expect(split.fit.rows + split.validation.rows + split.test.rows).toBe(6046);
  expect(card.metrics.timeForwardTest.rows).toBe(split.test.rows);
  // The threshold was chosen on the validation slice for the stated ham false-positive rate.
  expect(card.threshold.targetHamFalsePositiveRate).toBe(0.01);
  // ... in both input forms together: the gateway serves raw and structured requests with the one threshold.
  const forms = card.inputForms!.timeForwardValidation;
  expect((forms.raw.confusion.fp + forms.structured.confusion.fp) / (2 * forms.raw.ham)).toBeLessThanOrEqual(0.01);
  expect(forms.raw).toEqual(card.metrics.timeForwardValidation);
  expect(card.inputForms!.timeForwardTest.raw).toEqual(card.metrics.timeForwardTest);
  expect(card.metrics.timeForwardTest.threshold).toBe(card.threshold.value);
  // The test period is newer than everything the model was fitted on or validated with.
  const trainingEnd = Math.max(Date.parse(split.fit.receivedTo), Date.parse(split.validation.receivedTo));
  expect(Date.parse(split.test.receivedFrom)).toBeGreaterThanOrEqual(trainingEnd);
  // `created` is derived from the data (the end of the training period), not the clock.
  expect(card.created).toBe(new Date(trainingEnd).toISOString());
  // A real model: far better than chance on both splits.
  expect(card.metrics.randomTest.rocAuc).toBeGreaterThan(0.99);
  expect(card.metrics.timeForwardTest.rocAuc).toBeGreaterThan(0.95);
});

it('writes a baseline that validates against its schema, built from one half of the validation slice', () => {
  const bytes = [...first.files].find(([name]) => name.endsWith('baseline.json'))![1];
  const baseline = validateBaseline(bytes.toString('utf8'), FEATURE_NAMES);
  expect(baseline.createdAt).toBe(first.card.created);
  // The card says which rows the baseline holds; the rest of the slice is the replay's unseen mail.
  const validation = first.card.metrics.timeForwardValidation;
  const selection = first.card.baseline.rowSelection!;
  expect(first.card.baseline.rows).toBe(baseline.sampling.referenceRows);
  expect(selection.baselineRows.rows).toBe(baseline.sampling.referenceRows);
  expect(selection.baselineRows.rows + selection.replayRows.rows).toBe(validation.rows);
  expect(selection.baselineRows.spam + selection.replayRows.spam).toBe(validation.spam);
  expect(Math.abs(selection.baselineRows.rows - selection.replayRows.rows)).toBeLessThanOrEqual(2);
  expect(Math.abs(selection.baselineRows.spam - selection.replayRows.spam)).toBeLessThanOrEqual(1);
  // The threshold is still chosen on the whole slice.
  expect(first.card.threshold.validationRows).toBe(validation.rows);
});

it('halves the validation slice the same way for training and the replay: disjoint, stratified, seeded', () => {
  const split = timeForwardSplit(loadCorpus());
  const halves = baselineReplaySplit(split.validation);
  const again = baselineReplaySplit(split.validation);
  expect(again.baseline.map((m) => m.id)).toEqual(halves.baseline.map((m) => m.id));
  const baselineIds = new Set(halves.baseline.map((m) => m.id));
  expect(halves.replay.some((m) => baselineIds.has(m.id))).toBe(false);
  expect(new Set([...baselineIds, ...halves.replay.map((m) => m.id)])).toEqual(new Set(split.validation.map((m) => m.id)));
  expect(halves.baseline.length).toBe(first.card.baseline.rows);
  expect(halves.baseline.filter((m) => m.spam).length).toBe(first.card.baseline.rowSelection!.baselineRows.spam);
  const other = baselineReplaySplit(split.validation, 7);
  expect(other.baseline.map((m) => m.id)).not.toEqual(halves.baseline.map((m) => m.id));
});

it('uses the seed (token folds, random split, baseline halves) and is reproducible with another one', async () => {
  const other = await trainModel({ seed: 7, subsample: 4 });
  const again = await trainModel({ seed: 7, subsample: 4 });
  for (const [name, bytes] of other.files) expect(again.files.get(name)!.equals(bytes)).toBe(true);
  expect(other.card.training.seed).toBe(7);
  const sameData = await trainModel({ seed: 42, subsample: 4 });
  const onnx = `spam-detector/${COMMITTED_MODEL_VERSION}/model.onnx`;
  expect(other.files.get(onnx)!.equals(sameData.files.get(onnx)!)).toBe(false);
});

it('takes the validation slice from the newest mail of the training period, and the test period after it', () => {
  const split = timeForwardSplit(loadCorpus());
  const newest = (rows: readonly { receivedAt?: Date }[]) => Math.max(...rows.map((m) => m.receivedAt!.getTime()));
  const oldest = (rows: readonly { receivedAt?: Date }[]) => Math.min(...rows.map((m) => m.receivedAt!.getTime()));
  expect(oldest(split.validation)).toBeGreaterThanOrEqual(newest(split.fit));
  expect(oldest(split.test)).toBeGreaterThanOrEqual(newest(split.validation));
  expect(split.validation.length).toBe(Math.round((split.fit.length + split.validation.length) * 0.25));
  // Sender statistics: the test rows read the store as of the training period's end, the card says when that is.
  const senders = first.card.training.senderFeatures as {
    storeAsOf: string;
    validationStoreAsOf: string;
    windowDays: number;
    labelDelayDays: number;
  };
  expect(senders.storeAsOf).toBe(new Date(newest(split.validation)).toISOString());
  expect(senders.validationStoreAsOf).toBe(new Date(newest(split.fit)).toISOString());
  expect(senders).toMatchObject({ windowDays: 30, labelDelayDays: 1 });
});

it('the development split trains on the training period alone: the real test period is never read', async () => {
  const dev = await trainModel({ development: true, subsample: 4 });
  const real = timeForwardSplit(loadCorpus().filter((_, i) => i % 4 === 0));
  type Rows = { rows: number; receivedTo: string };
  const split = dev.card.training.split as { fit: Rows; validation: Rows; test: Rows };
  expect(dev.card.training.messages).toBe(real.fit.length + real.validation.length);
  expect(split.fit.rows + split.validation.rows + split.test.rows).toBe(real.fit.length + real.validation.length);
  expect(Date.parse(split.test.receivedTo)).toBeLessThan(Math.min(...real.test.map((m) => m.receivedAt!.getTime())) + 1);
});

it('the CLI writes the blob layout to --out and uploads it with --storage, keeping existing blobs on a rerun', async () => {
  const azurite = await startTestAzurite();
  const restore = setAppEnv({ AzureWebJobsStorage: undefined });
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'train-cli-'));
  try {
    const lines: string[] = [];
    const args = ['--subsample', '10', '--version', 'cli-test', '--out', out, '--storage', azurite.connectionString];
    const result = await runTrainCli(args, (l) => lines.push(l));
    expect(result.card.version).toBe('cli-test');
    for (const rel of result.files.keys()) expect(fs.existsSync(path.join(out, rel))).toBe(true);
    expect(fs.existsSync(path.join(out, 'spam-detector/cli-test/triton/spam-detector/config.pbtxt'))).toBe(true);
    expect(fs.existsSync(path.join(out, 'baselines/spam-detector/cli-test/baseline.json'))).toBe(true);
    expect(lines.filter((l) => /\] uploaded /.test(l))).toHaveLength(6);
    expect(lines.some((l) => /^ {2}timeForwardTest +rows/.test(l))).toBe(true);
    const blobs: string[] = [];
    for await (const b of getContainerClient(CONTAINERS.models).listBlobsFlat({ prefix: 'spam-detector/cli-test/' })) blobs.push(b.name);
    expect(blobs.sort()).toEqual(
      ['model.json', 'model.onnx', 'tokens.json', 'triton/spam-detector/1/model.onnx', 'triton/spam-detector/config.pbtxt'].map(
        (f) => `spam-detector/cli-test/${f}`,
      ),
    );
    const baseline = await getContainerClient(CONTAINERS.baselines)
      .getBlobClient('spam-detector/cli-test/baseline.json')
      .downloadToBuffer();
    expect(validateBaseline(baseline.toString('utf8'), FEATURE_NAMES).model.version).toBe('cli-test');

    const again: string[] = [];
    await runTrainCli(args, (l) => again.push(l));
    expect(again.filter((l) => /kept existing/.test(l))).toHaveLength(6);
    await expect(runTrainCli(['--seed', 'x', '--out', out])).rejects.toThrow(/--seed "x" is not valid/);
    // --development compares designs: it prints its figures and writes nothing unless --out names a place.
    const dev: string[] = [];
    await runTrainCli(['--development', '--subsample', '10'], (l) => dev.push(l));
    expect(dev.some((l) => /^development split \(training period only\): model/.test(l))).toBe(true);
    expect(dev.filter((l) => /\] wrote /.test(l))).toEqual([]);
    await expect(runTrainCli(['--development', '--upload'])).rejects.toThrow(/cannot be uploaded/);
  } finally {
    restore();
    fs.rmSync(out, { recursive: true, force: true });
    await azurite.dispose();
  }
});
