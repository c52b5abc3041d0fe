// The promotion's smoke evaluation: held-out corpus mail through the real gateway with X-Environment: staging
// (the predict API's batch form, docs/gateway.md), scored against the labels, compared with the model card's figures.
// It exercises the whole serving path (gateway, features, Feast, KServe staging) rather than the model file alone.
import { BadGatewayError } from '../../platform/errors';
import { rocAuc } from '../../model/metrics';
import { SmokeResult } from './types';

export interface SmokeSample {
  /** The message as the predict API carries it (`encoding`, default `utf8`; the held-out set uses base64). */
  raw: string;
  encoding?: 'utf8' | 'base64';
  spam: boolean;
}

/**
 * `n` messages spread evenly over `samples` (deterministic; the held-out period is time-ordered, so every part of
 * it shows). With n >= its size this is all of it, and then a model served without skew reproduces the card's
 * figures for that period exactly.
 */
export function spreadSamples(samples: readonly SmokeSample[], n: number): SmokeSample[] {
  const step = Math.max(1, samples.length / n);
  const out: SmokeSample[] = [];
  for (let i = 0; i < samples.length && out.length < n; i += step) out.push(samples[Math.floor(i)]);
  return out;
}

/** Batches of at most `maxCount` messages and about `maxBytes` of mail, well under the gateway's body limit. */
export function batches(samples: readonly SmokeSample[], maxCount: number, maxBytes: number): SmokeSample[][] {
  const out: SmokeSample[][] = [];
  let current: SmokeSample[] = [];
  let bytes = 0;
  for (const s of samples) {
    if (current.length && (current.length >= maxCount || bytes + s.raw.length > maxBytes)) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(s);
    bytes += s.raw.length;
  }
  if (current.length) out.push(current);
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
  /** Instances per request (the gateway bounds its batch size, PREDICT_MAX_BATCH). */
  batchSize?: number;
  /** Mail bytes per request (the gateway bounds the body, PREDICT_MAX_BODY_BYTES). */
  batchBytes?: number;
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
    body: JSON.stringify({ instances: batch.map((s) => ({ raw: s.raw, ...(s.encoding ? { encoding: s.encoding } : {}) })) }),
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
  const scores: number[] = [];
  const labels: number[] = [];
  let correct = 0;
  const versions = new Set<string>();
  let degraded = 0;
  const groups = batches(samples, options.batchSize ?? 32, options.batchBytes ?? 256 * 1024);
  for (const [n, batch] of groups.entries()) {
    const results = await predictBatch(options, batch, `smoke-${options.version}-${n}`);
    results.forEach((r, k) => {
      scores.push(r.probability);
      labels.push(batch[k].spam ? 1 : 0);
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
    failures.push(
      `accuracy ${accuracy.toFixed(4)} is below the card's ${options.reference.accuracy.toFixed(4)} minus ${options.margins.accuracy}`,
    );
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
