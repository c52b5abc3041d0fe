// Evaluation figures of a binary spam classifier (label 1 = spam), as the model card records them.
import type { ClassificationMetrics } from './modelCard';

/** ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half. */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<number>): number {
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumSpam = 0;
  let nSpam = 0;
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const rank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]] === 1) {
        rankSumSpam += rank;
        nSpam++;
      }
    }
    i = j + 1;
  }
  const nHam = idx.length - nSpam;
  if (nSpam === 0 || nHam === 0) return NaN;
  return (rankSumSpam - (nSpam * (nSpam + 1)) / 2) / (nSpam * nHam);
}

/**
 * The smallest threshold t (predict spam when p ≥ t) at which at most `targetFpr` of the ham scores are flagged:
 * just above the k-th highest ham score, k = floor(targetFpr · nHam). Thresholds are float32 values, as the
 * model's output is float32.
 */
export function thresholdForHamFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, targetFpr: number): number {
  const ham: number[] = [];
  for (let i = 0; i < scores.length; i++) if (labels[i] === 0) ham.push(Math.fround(scores[i]));
  if (ham.length === 0) return 0.5;
  ham.sort((a, b) => b - a);
  const k = Math.floor(targetFpr * ham.length);
  if (k >= ham.length) return 0;
  return nextFloat32Up(ham[k]);
}

/** The next float32 above `x` (x ≥ 0). */
export function nextFloat32Up(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  if (x === 0) u[0] = 1;
  else u[0] += 1;
  return f[0];
}

export function classificationMetrics(scores: ArrayLike<number>, labels: ArrayLike<number>, threshold: number): ClassificationMetrics {
  let tp = 0;
  let fp = 0;
  let tn = 0;
  let fn = 0;
  let logLoss = 0;
  for (let i = 0; i < scores.length; i++) {
    const spam = labels[i] === 1;
    const flagged = Math.fround(scores[i]) >= threshold;
    if (spam && flagged) tp++;
    else if (spam) fn++;
    else if (flagged) fp++;
    else tn++;
    const p = Math.min(1 - 1e-15, Math.max(1e-15, scores[i]));
    logLoss -= spam ? Math.log(p) : Math.log(1 - p);
  }
  const n = scores.length;
  const precision = tp + fp ? tp / (tp + fp) : 0;
  const recall = tp + fn ? tp / (tp + fn) : 0;
  return {
    rows: n,
    spam: tp + fn,
    ham: tn + fp,
    rocAuc: round6(rocAuc(scores, labels)),
    threshold,
    spamRecall: round6(recall),
    hamFalsePositiveRate: round6(tn + fp ? fp / (tn + fp) : 0),
    precision: round6(precision),
    accuracy: round6(n ? (tp + tn) / n : 0),
    f1: round6(precision + recall ? (2 * precision * recall) / (precision + recall) : 0),
    logLoss: round6(n ? logLoss / n : 0),
    confusion: { tp, fp, tn, fn },
  };
}

/** Diagnostic: spam recall at `targetFpr` with the threshold chosen on these very scores (a ROC point). */
export function oracleRecallAtHamFpr(scores: ArrayLike<number>, labels: ArrayLike<number>, targetFpr: number): number {
  return classificationMetrics(scores, labels, thresholdForHamFpr(scores, labels, targetFpr)).spamRecall;
}

export function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
