// The card's structured-form figures hold for the committed artifacts: the time-forward test period sent raw and as
// its structured projection through the gateway's request path, scored by the committed ONNX model with its token
// table and the sender store the deployed model reads. And the projection training fits on is exactly what the
// gateway computes for the same JSON request (no training/serving skew for the structured form).
import fs from 'node:fs';
import path from 'node:path';
import { committedModelDir, MODEL_FILES } from '../../../shared/model/modelArtifacts';
import { parseModelCard } from '../../../shared/model/modelCard';
import { classificationMetrics } from '../../../shared/model/metrics';
import { loadServingModel, ServingModel } from '../../../shared/serving/predict/environmentModels';
import { ParsedEmail, parseEmail, structuredProjection } from '../../../shared/serving/features/email';
import { computeFeatures } from '../../../shared/serving/features/transformer';
import { FEATURE_COUNT } from '../../../shared/serving/features/featureList';
import { SenderHistory } from '../../../shared/serving/featureStore/senderStats';
import { normalizeSenderDomain } from '../../../shared/serving/predict/senderHash';
import { parsePredictRequest } from '../../../shared/serving/predict/requestSchema';
import { loadCorpus, timeForwardSplit } from '../../../training/corpus';
import { senderEvent, trainingPeriodEnd } from '../../../training/trainingSenderStats';

jest.setTimeout(300_000);

let model: ServingModel;
const rows: { spam: boolean; raw: Float32Array; structured: Float32Array; trainingStructured: Float32Array }[] = [];

beforeAll(async () => {
  model = await loadServingModel(committedModelDir());
  const split = timeForwardSplit(loadCorpus());
  const period = [...split.fit, ...split.validation];
  const events = [];
  for (const m of period) {
    const event = senderEvent(m, await parseEmail({ raw: m.raw }), normalizeSenderDomain);
    if (event) events.push(event);
  }
  // The store as materialized at the training period's end: what the test rows read in training and the gateway reads.
  const history = new SenderHistory(events);
  const asOf = trainingPeriodEnd(period);
  const sender = (email: ParsedEmail) => history.at(email.senderDomain && normalizeSenderDomain(email.senderDomain), asOf);
  for (const m of split.test) {
    const raw = await parseEmail({ raw: m.raw });
    const projection = structuredProjection(raw);
    // Training's path: the projection parsed directly. The gateway's: the same fields as a JSON request body.
    const trained = await parseEmail(projection);
    const request = parsePredictRequest(JSON.parse(JSON.stringify(projection)), 1);
    if (request.kind !== 'single') throw new Error('expected a single request');
    const served = await parseEmail(request.instance.email);
    rows.push({
      spam: m.spam,
      raw: computeFeatures(raw, model.tokens, sender(raw)),
      structured: computeFeatures(served, model.tokens, sender(served)),
      trainingStructured: computeFeatures(trained, model.tokens, sender(raw)),
    });
  }
});

afterAll(async () => {
  await model.onnx.close();
});

it('computes the same structured-form features in training and at the gateway', () => {
  const differing = rows.filter((r) => !r.structured.every((v, i) => Object.is(v, r.trainingStructured[i]))).length;
  expect({ rows: rows.length, differing }).toEqual({ rows: 1814, differing: 0 });
});

it.each(['raw', 'structured'] as const)("reproduces the card's time-forward test figures sent %s", async (form) => {
  const flat = new Float32Array(rows.length * FEATURE_COUNT);
  rows.forEach((r, i) => flat.set(r[form], i * FEATURE_COUNT));
  const probabilities = await model.predict(flat, rows.length);
  const labels = Uint8Array.from(rows, (r) => (r.spam ? 1 : 0));
  const got = classificationMetrics(
    probabilities.map((p) => p[1]),
    labels,
    model.card.threshold.value,
  );
  const card = model.card.inputForms!.timeForwardTest[form];
  expect(got.rocAuc).toBeCloseTo(card.rocAuc, 4);
  expect(got.confusion).toEqual(card.confusion);
  expect(got.hamFalsePositiveRate).toBeCloseTo(card.hamFalsePositiveRate, 6);
  expect(got.spamRecall).toBeCloseTo(card.spamRecall, 6);
});

it('meets the floors for the structured form: ROC AUC within 0.01 of raw, ham FPR at most twice raw', () => {
  const { raw, structured } = model.card.inputForms!.timeForwardTest;
  expect(structured.rocAuc).toBeGreaterThanOrEqual(raw.rocAuc - 0.01);
  expect(structured.hamFalsePositiveRate).toBeLessThanOrEqual(2 * raw.hamFalsePositiveRate);
});

it('still reads a card without the input-forms section (models trained before it, such as 1.1.0)', () => {
  const { inputForms, ...older } = JSON.parse(fs.readFileSync(path.join(committedModelDir(), MODEL_FILES.card), 'utf8')) as Record<
    string,
    unknown
  >;
  expect(inputForms).toBeDefined();
  expect(parseModelCard(older).inputForms).toBeUndefined();
});
