// The promotion's smoke evaluation: held-out corpus mail through the real gateway with X-Environment: staging
// (DESIGN.md "Predict API", batch form), scored against the labels, compared with the model card's figures.
// It exercises the whole serving path (gateway, features, Feast, KServe staging) rather than the model file alone.
import type { CorpusMessage } from '../corpus';
import { BadGatewayError } from '../errors';
import { SmokeResult } from './types';

export interface SmokeSample {
  raw: string;
  spam: boolean;
}

/** ROC AUC as the Mann-Whitney statistic: P(score of a spam > score of a ham), ties counted one half. */
export function rocAuc(scores: readonly number[], positive: readonly boolean[]): number {
  const idx = scores.map((_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let rankSumPos = 0;
  let nPos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const meanRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (positive[idx[k]]) (rankSumPos += meanRank), nPos++;
    i = j + 1;
  }
  const nNeg = scores.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/** Larger messages are left out so that a batch stays well under the gateway's body limit. */
const MAX_SAMPLE_BYTES = 64 * 1024;

/** `n` messages spread evenly over `messages` (deterministic; the split is time-ordered, so all periods show). */
export function pickSamples(messages: readonly CorpusMessage[], n: number): SmokeSample[] {
  const usable = messages.filter((m) => m.raw.length <= MAX_SAMPLE_BYTES);
  const step = Math.max(1, usable.length / n);
  const out: SmokeSample[] = [];
  for (let i = 0; i < usable.length && out.length < n; i += step) {
    const m = usable[Math.floor(i)];
    out.push({ raw: m.raw.toString('latin1'), spam: m.spam });
  }
  return out;
}

interface PredictResult {
  prediction: 'spam' | 'ham';
  probability: number;
  model: { name: string; version: string };
  environment: string;
  degraded: boolean;
}

export interface SmokeOptions {
  gatewayUrl: string;
  gatewayKey?: string;
  version: string;
  reference: { accuracy: number; rocAuc: number; metricsKey: string };
  margins: { accuracy: number; auc: number };
  /** Instances per request (the gateway bounds its batch size). */
  batchSize?: number;
  timeoutMs?: number;
}

async function predictBatch(options: SmokeOptions, batch: SmokeSample[], requestId: string): Promise<PredictResult[]> {
  const res = await fetch(`${options.gatewayUrl.replace(/\/+$/, '')}/predict`, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      'X-Environment': 'staging',
      'X-Request-ID': requestId,
      ...(options.gatewayKey ? { 'x-functions-key': options.gatewayKey } : {}),
    },
    body: JSON.stringify({ instances: batch.map((s) => ({ raw: s.raw })) }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30000),
  });
  const text = await res.text();
  if (!res.ok) throw new BadGatewayError(`gateway answered ${res.status} to the smoke evaluation: ${text.slice(0, 300)}`);
  const body = JSON.parse(text) as { results?: PredictResult[]; predictions?: PredictResult[] } | PredictResult[];
  const results = Array.isArray(body) ? body : (body.results ?? body.predictions);
  if (!Array.isArray(results) || results.length !== batch.length) {
    throw new BadGatewayError(`gateway returned ${Array.isArray(results) ? results.length : 'no'} results for ${batch.length} instances`);
  }
  return results;
}

export async function runSmokeEvaluation(samples: readonly SmokeSample[], options: SmokeOptions): Promise<SmokeResult> {
  const batchSize = options.batchSize ?? 16;
  const scores: number[] = [];
  const labels: boolean[] = [];
  let correct = 0;
  const versions = new Set<string>();
  let degraded = 0;
  for (let i = 0; i < samples.length; i += batchSize) {
    const batch = samples.slice(i, i + batchSize);
    const results = await predictBatch(options, batch, `smoke-${options.version}-${i / batchSize}`);
    results.forEach((r, k) => {
      scores.push(r.probability);
      labels.push(batch[k].spam);
      if ((r.prediction === 'spam') === batch[k].spam) correct++;
      versions.add(r.model?.version);
      if (r.degraded) degraded++;
    });
  }
  const accuracy = correct / samples.length;
  const auc = rocAuc(scores, labels);
  const failures: string[] = [];
  const modelVersions = [...versions].sort();
  if (modelVersions.length !== 1 || modelVersions[0] !== options.version) {
    failures.push(`staging answered with model version(s) ${modelVersions.join(', ')}, not ${options.version}`);
  }
  if (degraded > 0) {
    failures.push(`${degraded} answers were degraded (not from the staging KServe model)`);
  }
  if (!(accuracy >= options.reference.accuracy - options.margins.accuracy)) {
    failures.push(`accuracy ${accuracy.toFixed(4)} is below the card's ${options.reference.accuracy.toFixed(4)} minus ${options.margins.accuracy}`);
  }
  if (!(auc >= options.reference.rocAuc - options.margins.auc)) {
    failures.push(`ROC AUC ${auc.toFixed(4)} is below the card's ${options.reference.rocAuc.toFixed(4)} minus ${options.margins.auc}`);
  }
  return {
    passed: failures.length === 0,
    samples: samples.length,
    accuracy,
    rocAuc: auc,
    reference: options.reference,
    margins: options.margins,
    modelVersions,
    failures,
  };
}
