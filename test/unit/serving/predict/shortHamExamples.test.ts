// Short ordinary mail in the structured form, the way most API users send it (no transport headers), comes out ham
// through the gateway's own code path: request validation, parse, Feast lookup, features, inference, threshold,
// with the committed model. Model 1.1.0 flagged all three for lacking Date, Message-ID and Received headers.
import { committedModelDir, COMMITTED_MODEL_VERSION } from '../../../../shared/model/modelArtifacts';
import type { Config } from '../../../../shared/platform/config';
import type { FeatureStore, SenderLookup } from '../../../../shared/serving/featureStore/featureStore';
import type { KServeClient } from '../../../../shared/serving/kserve/kserveClient';
import { loadServingModel, ServingModel } from '../../../../shared/serving/predict/environmentModels';
import { PredictService, SinglePredictResponse } from '../../../../shared/serving/predict/predictService';
import { parsePredictRequest } from '../../../../shared/serving/predict/requestSchema';
import { SHORT_HAM_EXAMPLES } from '../../../../training/shortHamExamples';

let model: ServingModel;

beforeAll(async () => {
  model = await loadServingModel(committedModelDir());
});

afterAll(async () => {
  await model.onnx.close();
});

// KServe serving the committed model, as the local stack's V2 server does; the senders are unknown to the store.
function service(): PredictService {
  const kserve = {
    infer: async (features: Float32Array, rows: number) => ({
      probabilities: await model.predict(features, rows),
      modelVersion: model.version,
    }),
  } as unknown as KServeClient;
  const noFeast: FeatureStore = {
    getSenderFeatures: (keys: readonly string[]): Promise<SenderLookup> =>
      Promise.resolve({ features: keys.map(() => undefined), found: keys.map(() => false) } as unknown as SenderLookup),
  } as unknown as FeatureStore;
  return new PredictService({
    config: () => ({ predictFallbackEnabled: false, senderHashKey: 'test-key' }) as unknown as Config,
    kserve: () => kserve,
    featureStore: () => noFeast,
    model: () => Promise.resolve(model),
    log: () => true,
    warn: () => undefined,
  });
}

async function predict(name: string): Promise<SinglePredictResponse> {
  const example = SHORT_HAM_EXAMPLES.find((e) => e.name === name)!;
  const request = parsePredictRequest(JSON.parse(JSON.stringify(example.email)), 10);
  return (await service().predict(request, 'production', 'req-1')) as SinglePredictResponse;
}

it.each(SHORT_HAM_EXAMPLES.map((ex) => ex.name))('%s: the gateway gives the probability the card records', async (name) => {
  const res = await predict(name);
  expect(res.model.version).toBe(COMMITTED_MODEL_VERSION);
  expect(res.degraded).toBe(false);
  const recorded = model.card.inputForms!.shortHamExamples.find((e) => e.name === name)!;
  expect(res.probability).toBeCloseTo(recorded.spamProbability, 5);
  expect(res.prediction).toBe(recorded.prediction);
});

it.each(['lunch reply', 'meeting note'])('%s in the structured form is ham', async (name) => {
  expect((await predict(name)).prediction).toBe('ham');
});

// A known miss, not of the form: with Date and Message-ID headers it scores 0.95 too. The 2002 corpus has little
// commercial ham, so order and tracking vocabulary reads as spam (docs/model.md). Fails loudly once it passes.
it.failing('shipping notification in the structured form is ham', async () => {
  expect((await predict('shipping notification')).prediction).toBe('ham');
});
