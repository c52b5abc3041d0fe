// The champion/challenger gate: the challenger replaces the champion only when it ranks the held-out newest mail
// clearly better (ROC AUC up by at least RETRAIN_MIN_AUC_GAIN) without flagging more ham beyond
// RETRAIN_MAX_HAM_FPR_INCREASE, each model at its own card threshold (the one it would serve with).
import type { Comparison, GateDecision, RetrainingSettings } from './types';

export function decideGate(comparison: Comparison, settings: Pick<RetrainingSettings, 'minAucGain' | 'maxHamFprIncrease'>): GateDecision {
  const { champion, challenger } = comparison;
  const aucGain = challenger.metrics.rocAuc - champion.metrics.rocAuc;
  const hamFprIncrease = challenger.metrics.hamFalsePositiveRate - champion.metrics.hamFalsePositiveRate;
  const reasons: string[] = [];
  const aucOk = Number.isFinite(aucGain) && aucGain >= settings.minAucGain;
  const fprOk = Number.isFinite(hamFprIncrease) && hamFprIncrease <= settings.maxHamFprIncrease;
  const f = (n: number) => n.toFixed(4);
  reasons.push(
    `ROC AUC ${f(challenger.metrics.rocAuc)} vs ${f(champion.metrics.rocAuc)} (gain ${f(aucGain)}, ${aucOk ? 'at least' : 'below'} ${settings.minAucGain})`,
    `ham FPR ${f(challenger.metrics.hamFalsePositiveRate)} vs ${f(champion.metrics.hamFalsePositiveRate)} (increase ${f(hamFprIncrease)}, ${fprOk ? 'within' : 'beyond'} ${settings.maxHamFprIncrease})`,
  );
  return {
    passed: aucOk && fprOk,
    aucGain,
    hamFprIncrease,
    minAucGain: settings.minAucGain,
    maxHamFprIncrease: settings.maxHamFprIncrease,
    reasons,
  };
}
