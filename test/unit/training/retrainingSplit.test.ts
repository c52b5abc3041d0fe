// The retraining's split: the newest feedback is held out (and reaches further back until it holds a few of each
// label), everything older is fitted or validated, and nothing is in two parts.
import { CorpusMessage, FEEDBACK_GROUP, MIN_HELD_OUT_PER_LABEL, retrainingSplit } from '../../../training/corpus';

const at = (day: number) => new Date(Date.UTC(2002, 8, 1) + day * 86400_000);
const message = (group: string, i: number, day: number, spam: boolean): CorpusMessage => ({
  id: `${group}/${i}`,
  group: group === 'feedback' ? FEEDBACK_GROUP : 'easy-ham-1',
  spam,
  raw: Buffer.from(''),
  receivedAt: at(day),
});

const trainingPeriod = Array.from({ length: 400 }, (_, i) => message('corpus', i, -100 + i / 4, i % 3 === 0));

it('holds out the newest share of each label of the feedback, and splits the rest into fit and a random validation slice', () => {
  const feedback = Array.from({ length: 200 }, (_, i) => message('feedback', i, i / 10, i % 2 === 0));
  const split = retrainingSplit(trainingPeriod, feedback, 0.15, 42);
  expect(split.test.map((m) => m.id)).toEqual(feedback.slice(170).map((m) => m.id));
  const trained = [...split.fit, ...split.validation];
  expect(trained).toHaveLength(400 + 170);
  expect(new Set(trained.map((m) => m.id)).size).toBe(570);
  expect(split.validation.length / trained.length).toBeCloseTo(0.25, 1);
  // Random, not the newest: the validation slice reaches into the corpus and the fit set into the feedback.
  expect(split.validation.some((m) => m.group !== FEEDBACK_GROUP)).toBe(true);
  expect(split.fit.some((m) => m.group === FEEDBACK_GROUP)).toBe(true);
});

it('takes the newest of the rarer label from further back, and refuses when a label has too few', () => {
  // Spam only in the older 70 % of the feedback: the newest ham and the newest spam are held out all the same.
  const feedback = Array.from({ length: 100 }, (_, i) => message('feedback', i, i / 10, i < 70 && i % 2 === 0));
  const split = retrainingSplit(trainingPeriod, feedback, 0.15, 42);
  const spam = feedback.filter((m) => m.spam);
  const ham = feedback.filter((m) => !m.spam);
  expect(split.test.filter((m) => m.spam).map((m) => m.id)).toEqual(
    spam.slice(-Math.max(Math.round(spam.length * 0.15), MIN_HELD_OUT_PER_LABEL)).map((m) => m.id),
  );
  expect(split.test.filter((m) => !m.spam).map((m) => m.id)).toEqual(ham.slice(-Math.round(ham.length * 0.15)).map((m) => m.id));
  const allHam = feedback.map((m) => ({ ...m, spam: false }));
  expect(() => retrainingSplit(trainingPeriod, allHam, 0.15, 42)).toThrow(/0 spam messages.*at least 5 of each/);
});
