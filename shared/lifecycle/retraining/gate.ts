// The champion/challenger gate, on the held-out newest mail, each model at its own card threshold (the one it would
// serve with). The challenger replaces the champion only when it is clearly better there, in ranking (ROC AUC up by
// at least RETRAIN_MIN_AUC_GAIN) or in what users see (ham false-positive rate down by at least
// RETRAIN_MIN_HAM_FPR_DECREASE), and worse in nothing: ROC AUC not lower by more than RETRAIN_MIN_AUC_GAIN, ham FPR
// not higher by more than RETRAIN_MAX_HAM_FPR_INCREASE, spam recall not lower by more than
// RETRAIN_MAX_SPAM_RECALL_DROP. A champion that ranks new mail perfectly but flags a fifth of its ham is beaten by
// one that ranks it as well and flags none: a ranking gain alone cannot say that.
//
// The two rate tolerances are widened by one message of the held-out slice: a rate moves in steps of one message,
// and with 30 held-out spam one missed message is 3.3 %, so a 2 % tolerance would refuse any challenger that misses
// a single message the champion caught, however much ham it stops flagging. Two messages are beyond it.
import type { Comparison, GateDecision, RetrainingSettings } from './types';

type GateSettings = Pick<RetrainingSettings, 'minAucGain' | 'minHamFprDecrease' | 'maxHamFprIncrease' | 'maxSpamRecallDrop'>;

export function decideGate(comparison: Comparison, settings: GateSettings): GateDecision {
  const { champion, challenger } = comparison;
  const aucGain = challenger.metrics.rocAuc - champion.metrics.rocAuc;
  const hamFprIncrease = challenger.metrics.hamFalsePositiveRate - champion.metrics.hamFalsePositiveRate;
  const spamRecallDrop = champion.metrics.spamRecall - challenger.metrics.spamRecall;
  const finite = [aucGain, hamFprIncrease, spamRecallDrop].every(Number.isFinite);
  const ranksBetter = aucGain >= settings.minAucGain;
  const flagsLessHam = -hamFprIncrease >= settings.minHamFprDecrease;
  // The margin is also the tolerance downwards; a negative margin (a gate opened wide) tolerates as much.
  const aucOk = aucGain >= -Math.abs(settings.minAucGain);
  const oneMessage = (n: number) => (n > 0 ? 1 / n : 0);
  const fprTolerance = settings.maxHamFprIncrease + oneMessage(challenger.metrics.ham);
  const recallTolerance = settings.maxSpamRecallDrop + oneMessage(challenger.metrics.spam);
  const fprOk = hamFprIncrease <= fprTolerance + 1e-12;
  const recallOk = spamRecallDrop <= recallTolerance + 1e-12;
  const f = (n: number) => n.toFixed(4);
  const { holdout } = comparison;
  const reasons = [
    ...(holdout.optimisticForChampion
      ? [
          `scored on ${holdout.rows} held-out rows of which ${holdout.championSeen} are no newer than the champion's training mail (too few newer ones): the figures favour the champion`,
        ]
      : []),
    `ROC AUC ${f(challenger.metrics.rocAuc)} vs ${f(champion.metrics.rocAuc)} (gain ${f(aucGain)}: ${ranksBetter ? `better by at least ${settings.minAucGain}` : aucOk ? 'no clear gain' : `lower by more than ${Math.abs(settings.minAucGain)}`})`,
    `ham FPR ${f(challenger.metrics.hamFalsePositiveRate)} vs ${f(champion.metrics.hamFalsePositiveRate)} (increase ${f(hamFprIncrease)}: ${flagsLessHam ? `lower by at least ${settings.minHamFprDecrease}` : fprOk ? `within ${f(fprTolerance)}` : `beyond ${f(fprTolerance)}`})`,
    `spam recall ${f(challenger.metrics.spamRecall)} vs ${f(champion.metrics.spamRecall)} (drop ${f(spamRecallDrop)}, ${recallOk ? 'within' : 'beyond'} ${f(recallTolerance)}: ${settings.maxSpamRecallDrop} and one message)`,
  ];
  if (finite && aucOk && fprOk && recallOk && !ranksBetter && !flagsLessHam) reasons.push('no clear improvement over the champion');
  return {
    passed: finite && (ranksBetter || flagsLessHam) && aucOk && fprOk && recallOk,
    aucGain,
    hamFprIncrease,
    spamRecallDrop,
    minAucGain: settings.minAucGain,
    minHamFprDecrease: settings.minHamFprDecrease,
    maxHamFprIncrease: settings.maxHamFprIncrease,
    maxSpamRecallDrop: settings.maxSpamRecallDrop,
    reasons,
  };
}
