// The champion/challenger gate on hand-made figures: it needs a clear gain in ranking or in ham flagged, and each of
// its guards can fail the challenger alone.
import { decideGate } from '../../../../shared/lifecycle/retraining/gate';
import type { Comparison, ModelScore } from '../../../../shared/lifecycle/retraining/types';
import type { ClassificationMetrics } from '../../../../shared/model/modelCard';

function score(version: string, figures: Pick<ClassificationMetrics, 'rocAuc' | 'hamFalsePositiveRate' | 'spamRecall'>): ModelScore {
  const metrics: ClassificationMetrics = {
    rows: 200,
    spam: 100,
    ham: 100,
    threshold: 0.5,
    precision: 0.9,
    accuracy: 0.9,
    f1: 0.9,
    logLoss: 0.2,
    confusion: { tp: 90, fp: 10, tn: 90, fn: 10 },
    ...figures,
  };
  return { version, threshold: 0.5, metrics };
}

const settings = { minAucGain: 0.005, minHamFprDecrease: 0.005, maxHamFprIncrease: 0.002, maxSpamRecallDrop: 0.02 };
const champion = score('1.2.0', { rocAuc: 0.97, hamFalsePositiveRate: 0.01, spamRecall: 0.9 });

function compare(challenger: ModelScore, seen = 0): Comparison {
  const holdout = {
    rows: 200,
    spam: 100,
    ham: 100,
    feedback: 200 - seen,
    receivedFrom: null,
    receivedTo: null,
    heldOut: 200,
    championSeen: seen,
    optimisticForChampion: seen > 0,
  };
  return { holdout, champion, challenger };
}

describe('champion/challenger gate', () => {
  it('lets a challenger through that ranks better without more false positives or less recall', () => {
    const decision = decideGate(compare(score('1.3.0', { rocAuc: 0.99, hamFalsePositiveRate: 0.005, spamRecall: 0.95 })), settings);
    expect(decision.passed).toBe(true);
    expect(decision.aucGain).toBeCloseTo(0.02, 12);
    expect(decision.reasons).toHaveLength(3);
  });

  it('lets a challenger through that ranks as well but flags clearly less ham (the champion whose threshold no longer holds)', () => {
    const perfectRanking = score('1.2.0', { rocAuc: 1, hamFalsePositiveRate: 0.227, spamRecall: 1 });
    const decision = decideGate(
      { ...compare(score('1.3.0', { rocAuc: 1, hamFalsePositiveRate: 0, spamRecall: 1 })), champion: perfectRanking },
      settings,
    );
    expect(decision).toMatchObject({ passed: true, aucGain: 0 });
    expect(decision.reasons[1]).toMatch(/lower by at least 0.005/);
  });

  it('lets every challenger through when opened wide (the benchmark times registration)', () => {
    const wide = { minAucGain: -1, minHamFprDecrease: 0, maxHamFprIncrease: 1, maxSpamRecallDrop: 1 };
    expect(decideGate(compare(score('1.3.0', { rocAuc: 0.5, hamFalsePositiveRate: 0.5, spamRecall: 0.1 })), wide).passed).toBe(true);
  });

  it('forgives one message: 29 of 30 held-out spam caught instead of 30, with far less ham flagged, wins; 28 does not', () => {
    const counts = (recall: number, fpr: number) => ({
      rows: 142,
      spam: 30,
      ham: 112,
      rocAuc: 0.999,
      spamRecall: recall,
      hamFalsePositiveRate: fpr,
    });
    const withCounts = (s: ModelScore, figures: ReturnType<typeof counts>) => ({ ...s, metrics: { ...s.metrics, ...figures } });
    const base = compare(score('1.3.0', { rocAuc: 0.999, hamFalsePositiveRate: 0, spamRecall: 1 }));
    const champ = withCounts(champion, counts(1, 0.107));
    const one = decideGate({ ...base, champion: champ, challenger: withCounts(base.challenger, counts(29 / 30, 0.0089)) }, settings);
    expect(one.passed).toBe(true);
    const two = decideGate({ ...base, champion: champ, challenger: withCounts(base.challenger, counts(28 / 30, 0.0089)) }, settings);
    expect(two.passed).toBe(false);
    expect(two.reasons.join('; ')).toMatch(/spam recall .* beyond 0.0533: 0.02 and one message/);
  });

  it.each([
    [
      'no clear gain in ranking or in ham flagged',
      { rocAuc: 0.972, hamFalsePositiveRate: 0.008, spamRecall: 0.95 },
      /no clear improvement/,
    ],
    [
      'fewer false positives bought with a worse ranking',
      { rocAuc: 0.96, hamFalsePositiveRate: 0.001, spamRecall: 0.9 },
      /lower by more than 0.005/,
    ],
    // 100 ham and 100 spam held out: one message is 0.01 on top of each tolerance.
    ['more ham flagged than allowed', { rocAuc: 0.99, hamFalsePositiveRate: 0.03, spamRecall: 0.95 }, /ham FPR .* beyond 0.0120/],
    ['less spam caught than allowed', { rocAuc: 0.99, hamFalsePositiveRate: 0.005, spamRecall: 0.85 }, /spam recall .* beyond 0.0300/],
    ['figures that are not numbers', { rocAuc: Number.NaN, hamFalsePositiveRate: 0.005, spamRecall: 0.95 }, /ROC AUC NaN/],
  ])('refuses %s', (_name, figures, reason) => {
    const decision = decideGate(compare(score('1.3.0', figures)), settings);
    expect(decision.passed).toBe(false);
    expect(decision.reasons.join('; ')).toMatch(reason);
  });

  it('says so when the figures favour the champion, and decides on them all the same', () => {
    const decision = decideGate(compare(score('1.3.0', { rocAuc: 0.99, hamFalsePositiveRate: 0.005, spamRecall: 0.95 }), 150), settings);
    expect(decision.passed).toBe(true);
    expect(decision.reasons).toHaveLength(4);
    expect(decision.reasons[0]).toMatch(/of which 150 are no newer than the champion's training mail .* favour the champion/);
  });
});
