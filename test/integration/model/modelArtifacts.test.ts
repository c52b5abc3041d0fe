// The model artifacts: ONNX export reproduces the training code, the committed model loads and serves, the loader
// refuses a model built for another feature list or with mismatched files, the Triton config matches the graph,
// the baseline validates against its schema, and the committed model publishes to Blob (Azurite) once.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { ensureContainers, getContainerClient } from '../../../shared/platform/blobStorage';
import { validateBaseline } from '../../../shared/drift/baseline';
import { FEATURE_COUNT, FEATURE_NAMES } from '../../../shared/serving/features/featureList';
import { mulberry32 } from '../../../shared/platform/random';
import { fitLogisticRegression, predictSpam } from '../../../training/logisticRegression';
import { rocAuc, thresholdForHamFpr, classificationMetrics } from '../../../shared/model/metrics';
import {
  COMMITTED_MODEL_VERSION,
  MODEL_FILES,
  baselineFile,
  committedModelDir,
  loadModelDirectory,
  loadModelFromBlob,
  publishCommittedModel,
} from '../../../shared/model/modelArtifacts';
import { ModelCardError } from '../../../shared/model/modelCard';
import { exportOnnx, tritonConfig } from '../../../training/onnxExport';
import { ModelInputError, ModelSignatureError, OnnxModel } from '../../../shared/model/onnxModel';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { setAppEnv } from '../../helpers/env';

/** Deterministic synthetic rows: features on very different scales, a logit that depends on a few of them. */
function syntheticData(n: number, seed: number): { rows: Float32Array[]; labels: Uint8Array } {
  const random = mulberry32(seed);
  const rows: Float32Array[] = [];
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const r = new Float32Array(FEATURE_COUNT);
    for (let j = 0; j < FEATURE_COUNT; j++) r[j] = j % 5 === 0 ? (random() < 0.1 ? 1 : 0) : (random() - 0.5) * (j + 1) * 3;
    const z = 0.8 * r[1] - 0.4 * r[2] + 2 * r[5] + 0.05 * r[49];
    labels[i] = random() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    rows.push(r);
  }
  return { rows, labels };
}

describe('ONNX export', () => {
  it('reproduces the training code probabilities to 1e-6, as [p_ham, p_spam]', async () => {
    const { rows, labels } = syntheticData(2000, 7);
    const model = fitLogisticRegression(rows, labels, { l2: 1 });
    const bytes = exportOnnx(model, { modelName: 'spam-detector', version: 'test', featureNames: FEATURE_NAMES, threshold: 0.5 });
    const onnx = await OnnxModel.load(bytes);
    try {
      const flat = new Float32Array(rows.length * FEATURE_COUNT);
      rows.forEach((r, i) => flat.set(r, i * FEATURE_COUNT));
      const out = await onnx.predict(flat);
      expect(out).toHaveLength(rows.length * 2);
      let maxDiff = 0;
      rows.forEach((r, i) => {
        const p = predictSpam(model, r);
        maxDiff = Math.max(maxDiff, Math.abs(out[2 * i + 1] - p), Math.abs(out[2 * i] - (1 - p)));
      });
      expect(maxDiff).toBeLessThan(1e-6);
      // The model learned something real from the synthetic signal (guards against an all-0.5 export passing).
      const spam = Array.from({ length: rows.length }, (_, i) => out[2 * i + 1]);
      expect(rocAuc(spam, labels)).toBeGreaterThan(0.8);
    } finally {
      await onnx.close();
    }
  });

  it('gives identical bytes for identical parameters', () => {
    const { rows, labels } = syntheticData(300, 3);
    const meta = { modelName: 'spam-detector', version: 'v', featureNames: FEATURE_NAMES, threshold: 0.5 };
    const a = exportOnnx(fitLogisticRegression(rows, labels, { l2: 1 }), meta);
    const b = exportOnnx(fitLogisticRegression(rows, labels, { l2: 1 }), meta);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
  });

  it('rejects a batch of the wrong width or with non-finite values, and a model with another signature', async () => {
    const { rows, labels } = syntheticData(100, 1);
    const onnx = await OnnxModel.load(
      exportOnnx(fitLogisticRegression(rows, labels, { l2: 1 }), {
        modelName: 'm',
        version: 'v',
        featureNames: FEATURE_NAMES,
        threshold: 0.5,
      }),
    );
    try {
      await expect(onnx.predict(new Float32Array(49))).rejects.toThrow(ModelInputError);
      await expect(onnx.predict(new Float32Array(0))).rejects.toThrow(ModelInputError);
      const bad = new Float32Array(FEATURE_COUNT);
      bad[3] = NaN;
      await expect(onnx.predict(bad)).rejects.toThrow(/feature value 3 of row 0 is not finite/);
    } finally {
      await onnx.close();
    }
    await expect(OnnxModel.load(new Uint8Array([1, 2, 3]))).rejects.toThrow();
  });
});

describe('metrics', () => {
  it('computes ROC AUC with ties and picks the threshold for a ham false-positive rate', () => {
    expect(rocAuc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBeCloseTo(0.75, 12);
    expect(rocAuc([0.5, 0.5], [0, 1])).toBe(0.5);
    const scores = Array.from({ length: 200 }, (_, i) => i / 200);
    const labels = scores.map((_, i) => (i % 2 === 0 ? 0 : 1));
    const t = thresholdForHamFpr(scores, labels, 0.05);
    const m = classificationMetrics(scores, labels, t);
    expect(m.hamFalsePositiveRate).toBeLessThanOrEqual(0.05);
    expect(m.confusion.fp).toBe(5); // floor(0.05 * 100 ham)
  });
});

describe('the committed model', () => {
  const dir = committedModelDir();

  it('loads, validates its card and serves probabilities that sum to 1', async () => {
    const model = await loadModelDirectory(dir);
    try {
      expect(model.card.version).toBe(COMMITTED_MODEL_VERSION);
      expect(model.card.features.map((f) => f.name)).toEqual(FEATURE_NAMES);
      expect(model.card.threshold.value).toBeGreaterThan(0);
      expect(model.card.threshold.value).toBeLessThan(1);
      expect(model.tokens.file.tokens.length).toBeGreaterThan(1000);
      const out = await model.onnx.predict(new Float32Array(3 * FEATURE_COUNT));
      for (let i = 0; i < 3; i++) expect(out[2 * i] + out[2 * i + 1]).toBeCloseTo(1, 6);
    } finally {
      await model.onnx.close();
    }
  });

  it('has a Triton repository whose config names the ONNX graph inputs and outputs with matching dims', async () => {
    const config = fs.readFileSync(path.join(dir, MODEL_FILES.tritonConfig), 'utf8');
    expect(config).toBe(tritonConfig('spam-detector', COMMITTED_MODEL_VERSION));
    expect(fs.readFileSync(path.join(dir, MODEL_FILES.tritonOnnx)).equals(fs.readFileSync(path.join(dir, MODEL_FILES.onnx)))).toBe(true);
    const session = await ort.InferenceSession.create(path.join(dir, MODEL_FILES.tritonOnnx));
    try {
      const blocks = [...config.matchAll(/name: "([^"]+)"\s+data_type: TYPE_FP32\s+dims: \[ ([^\]]+) \]/g)].map((m) => ({
        name: m[1],
        dims: m[2].split(',').map((d) => Number(d.trim())),
      }));
      expect(blocks).toHaveLength(2);
      const graph = [...session.inputMetadata, ...session.outputMetadata];
      for (const block of blocks) {
        const meta = graph.find((m) => m.name === block.name);
        expect(meta?.isTensor).toBe(true);
        if (!meta?.isTensor) continue;
        expect(meta.type).toBe('float32');
        expect(meta.shape.map((d) => (typeof d === 'number' ? d : -1))).toEqual(block.dims);
      }
      expect(config).toMatch(/max_batch_size: 0/);
      expect(config).toMatch(/backend: "onnxruntime"/);
    } finally {
      await session.release();
    }
  });

  it('has a baseline that validates against its schema and describes the 50 features', () => {
    const text = fs.readFileSync(baselineFile(COMMITTED_MODEL_VERSION), 'utf8');
    const baseline = validateBaseline(text, FEATURE_NAMES);
    expect(baseline.model).toEqual({ name: 'spam-detector', version: COMMITTED_MODEL_VERSION });
    expect(baseline.sampling.referenceRows).toBeGreaterThan(500);
    expect(baseline.prediction.count).toBe(baseline.sampling.referenceRows);
  });

  it('is refused when its card lists other features, or its files come from different runs', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'model-test-'));
    try {
      for (const f of [MODEL_FILES.onnx, MODEL_FILES.tokens]) fs.copyFileSync(path.join(dir, f), path.join(tmp, f));
      const card = JSON.parse(fs.readFileSync(path.join(dir, MODEL_FILES.card), 'utf8'));

      const swapped = structuredClone(card);
      [swapped.features[0], swapped.features[1]] = [swapped.features[1], swapped.features[0]];
      fs.writeFileSync(path.join(tmp, MODEL_FILES.card), JSON.stringify(swapped));
      await expect(loadModelDirectory(tmp)).rejects.toThrow(/feature list differs.*feature 0 is 'body_lines_log'/);

      const shorter = structuredClone(card);
      shorter.features.pop();
      fs.writeFileSync(path.join(tmp, MODEL_FILES.card), JSON.stringify(shorter));
      await expect(loadModelDirectory(tmp)).rejects.toThrow(/lists 49 features, this code computes 50/);

      fs.writeFileSync(path.join(tmp, MODEL_FILES.card), JSON.stringify(card));
      fs.appendFileSync(path.join(tmp, MODEL_FILES.tokens), ' ');
      await expect(loadModelDirectory(tmp)).rejects.toThrow(ModelCardError);
      await expect(loadModelDirectory(tmp)).rejects.toThrow(/tokens.json: sha256 differs/);

      fs.rmSync(path.join(tmp, MODEL_FILES.onnx));
      await expect(loadModelDirectory(tmp)).rejects.toThrow(/model.onnx: missing/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('refuses an ONNX file with another signature', async () => {
    // A graph with input `x` instead of `features`: valid ONNX, wrong contract.
    const { rows, labels } = syntheticData(50, 2);
    const bytes = Buffer.from(
      exportOnnx(fitLogisticRegression(rows, labels, { l2: 1 }), {
        modelName: 'm',
        version: 'v',
        featureNames: FEATURE_NAMES,
        threshold: 0.5,
      }),
    );
    const renamed = Buffer.from(bytes.toString('latin1').split('features').join('featurez'), 'latin1');
    await expect(OnnxModel.load(new Uint8Array(renamed))).rejects.toThrow(ModelSignatureError);
  });
});

describe('publishing to Blob', () => {
  let azurite: TestAzurite;
  let restore: () => void;
  beforeAll(async () => {
    azurite = await startTestAzurite();
    restore = setAppEnv({ AzureWebJobsStorage: azurite.connectionString });
  });
  afterAll(async () => {
    restore();
    await azurite.dispose();
  });

  it('uploads the committed model and baseline when missing, keeps them when present, and loads back', async () => {
    await ensureContainers([CONTAINERS.models, CONTAINERS.baselines]);
    const first = await publishCommittedModel();
    expect(first.uploaded).toEqual([
      `models/spam-detector/${COMMITTED_MODEL_VERSION}/model.onnx`,
      `models/spam-detector/${COMMITTED_MODEL_VERSION}/model.json`,
      `models/spam-detector/${COMMITTED_MODEL_VERSION}/tokens.json`,
      `models/spam-detector/${COMMITTED_MODEL_VERSION}/triton/spam-detector/1/model.onnx`,
      `models/spam-detector/${COMMITTED_MODEL_VERSION}/triton/spam-detector/config.pbtxt`,
      `baselines/spam-detector/${COMMITTED_MODEL_VERSION}/baseline.json`,
    ]);
    const second = await publishCommittedModel();
    expect(second.uploaded).toEqual([]);
    expect(second.skipped).toHaveLength(6);

    const props = await getContainerClient(CONTAINERS.baselines)
      .getBlobClient(`spam-detector/${COMMITTED_MODEL_VERSION}/baseline.json`)
      .getProperties();
    expect(props.contentType).toBe('application/json');
    const model = await loadModelFromBlob(COMMITTED_MODEL_VERSION);
    try {
      expect(model.card.version).toBe(COMMITTED_MODEL_VERSION);
      expect(model.source).toBe(`models/spam-detector/${COMMITTED_MODEL_VERSION}/`);
    } finally {
      await model.onnx.close();
    }
    await expect(loadModelFromBlob('no-such-version')).rejects.toThrow(/not found/);
  });
});
