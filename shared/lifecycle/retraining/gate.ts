// The champion/challenger gate: the challenger replaces the champion only when it ranks the held-out newest mail
// clearly better (ROC AUC up by at least RETRAIN_MIN_AUC_GAIN) without flagging more ham beyond
// RETRAIN_MAX_HAM_FPR_INCREASE or catching less spam beyond RETRAIN_MAX_SPAM_RECALL_DROP, each model at its own card
// threshold (the one it would serve with). A better ranking alone is not enough: the threshold decides what users see.
import type { Comparison, GateDecision, RetrainingSettings } from './types';

type GateSettings = Pick<RetrainingSettings, 'minAucGain' | 'maxHamFprIncrease' | 'maxSpamRecallDrop'>;

export function decideGate(comparison: Comparison, settings: GateSettings): GateDecision {
  const { champion, challenger } = comparison;
  const aucGain = challenger.metrics.rocAuc - champion.metrics.rocAuc;
  const hamFprIncrease = challenger.metrics.hamFalsePositiveRate - champion.metrics.hamFalsePositiveRate;
  const spamRecallDrop = champion.metrics.spamRecall - challenger.metrics.spamRecall;
  const aucOk = Number.isFinite(aucGain) && aucGain >= settings.minAucGain;
  const fprOk = Number.isFinite(hamFprIncrease) && hamFprIncrease <= settings.maxHamFprIncrease;
  const recallOk = Number.isFinite(spamRecallDrop) && spamRecallDrop <= settings.maxSpamRecallDrop;
  const f = (n: number) => n.toFixed(4);
  const { holdout } = comparison;
  const reasons = [
    ...(holdout.optimisticForChampion
      ? [
          `scored on ${holdout.rows} held-out rows of which ${holdout.championSeen} are no newer than the champion's training mail (too few newer ones): the figures favour the champion`,
        ]
      : []),
    `ROC AUC ${f(challenger.metrics.rocAuc)} vs ${f(champion.metrics.rocAuc)} (gain ${f(aucGain)}, ${aucOk ? 'at least' : 'below'} ${settings.minAucGain})`,
    `ham FPR ${f(challenger.metrics.hamFalsePositiveRate)} vs ${f(champion.metrics.hamFalsePositiveRate)} (increase ${f(hamFprIncrease)}, ${fprOk ? 'within' : 'beyond'} ${settings.maxHamFprIncrease})`,
    `spam recall ${f(challenger.metrics.spamRecall)} vs ${f(champion.metrics.spamRecall)} (drop ${f(spamRecallDrop)}, ${recallOk ? 'within' : 'beyond'} ${settings.maxSpamRecallDrop})`,
  ];
  return {
    passed: aucOk && fprOk && recallOk,
    aucGain,
    hamFprIncrease,
    spamRecallDrop,
    minAucGain: settings.minAucGain,
    maxHamFprIncrease: settings.maxHamFprIncrease,
    maxSpamRecallDrop: settings.maxSpamRecallDrop,
    reasons,
  };
}
