// Merged counts → the drift report: the statistics of every distribution, the Benjamini-Hochberg adjustment over
// the features, each distribution's status, the run's score and its overall status. Pure (no I/O): the drift
// run's finish step (driftRun.ts) and the CLI's file mode (tools/cli/driftFileComparison.ts) both
// end here.
//
// Decision rules (docs/drift.md): a distribution drifts only when BOTH its effect size and its significance say so:
// PSI ≥ 0.1 (warning) or > 0.2 (critical) on the baseline's frozen bins AND BH-adjusted KS p ≤ alpha. Fewer than
// DRIFT_MIN_ROWS finite values give `insufficient_data`, never an alarm. The run is critical when the prediction
// distribution is critical, when at least DRIFT_CRITICAL_FEATURE_SHARE of the features are critical, or when the
// score (mean significant PSI, each capped at 1) exceeds 0.2; a warning when any feature or the prediction drifts or the score reaches 0.1.
import { mean } from 'simple-statistics';
import { getConfig } from '../platform/config';
import { Baseline } from './baseline';
import { benjaminiHochberg } from './statistics/multipleTesting';
import { currentSummary, finalizeDistribution, PartialCounts, referenceDistributions } from './statistics/partialCounts';
import { comparisonBins, PSI_CRITICAL, PSI_WARNING } from './statistics/psi';
import {
  codeVersion,
  DistributionDrift,
  DRIFT_REPORT_SCHEMA_VERSION,
  DriftReport,
  DriftStatus,
  DriftThresholds,
  DriftTrigger,
} from './report';

export function driftThresholds(): DriftThresholds {
  const c = getConfig();
  return {
    psi_warning: PSI_WARNING,
    psi_critical: PSI_CRITICAL,
    alpha: c.driftAlpha,
    min_rows: c.driftMinRows,
    critical_feature_share: c.driftCriticalFeatureShare,
  };
}

export interface ReportContext {
  runId: string;
  createdAt: Date;
  trigger: DriftTrigger;
  environment: string | null;
  window: DriftReport['window'];
  baselineSource: string;
  baselineSha256: string | null;
  activatedAt: string | null;
  currentSource: string;
  otherModelVersions?: Record<string, number>;
  partitions?: number;
  thresholds?: DriftThresholds;
  /** False when the current data has no prediction column (file mode): the report's `prediction` is null. */
  hasPrediction?: boolean;
}

/** Largest contribution of one feature to the score. PSI has no upper bound (a feature that is constant in the
 * reference reaches 7-10 as soon as it moves); beyond 1 it only says "a different distribution", and uncapped,
 * one such feature would decide the run's status through the mean, against the rule that one drifted feature
 * alone is a warning. */
export const SCORE_PSI_CAP = 1;

function statusOf(psi: number | null, pAdjusted: number | null, finite: number, t: DriftThresholds): DriftStatus {
  if (finite < t.min_rows || psi === null || pAdjusted === null) return 'insufficient_data';
  if (!(pAdjusted <= t.alpha)) return 'healthy';
  if (psi > t.psi_critical) return 'critical';
  if (psi >= t.psi_warning) return 'warning';
  return 'healthy';
}

/**
 * Merged counts → the report: statistics per distribution, BH adjustment over the features, statuses, score and
 * overall status. The alert outcome is filled in later by the caller (file mode has none). `finalized`: the
 * distributions' statistics (`finalizeDistribution` of each, in order) when the caller computed them already.
 */
export function computeDriftReport(
  baseline: Baseline,
  merged: PartialCounts,
  ctx: ReportContext,
  finalized?: readonly ReturnType<typeof finalizeDistribution>[],
): DriftReport {
  const t = ctx.thresholds ?? driftThresholds();
  const refs = referenceDistributions(baseline);
  const finals = refs.map((ref, i) => ({ ref, fin: finalized?.[i] ?? finalizeDistribution(ref, merged, i) }));
  const featureFinals = finals.slice(0, baseline.features.length);
  const predictionFinal = finals[finals.length - 1];

  // BH over the features that have a p-value; the prediction is one test of its own.
  const tested = featureFinals.map((f, i) => ({ i, p: f.fin.ks?.pvalue })).filter((x): x is { i: number; p: number } => x.p !== undefined);
  const adjusted = new Map<number, number>();
  benjaminiHochberg(tested.map((x) => x.p)).forEach((q, k) => adjusted.set(tested[k].i, q));

  const toDrift = (f: (typeof finals)[number], pAdjusted: number | null): DistributionDrift => {
    const { ref, fin } = f;
    const psi = fin.psi;
    const bins = comparisonBins(ref);
    return {
      name: ref.name,
      psi,
      ks: {
        statistic: fin.ks?.statistic ?? null,
        pvalue: fin.ks?.pvalue ?? null,
        pvalue_adjusted: pAdjusted,
        method: fin.ks?.method ?? null,
      },
      status: statusOf(psi, pAdjusted, fin.counts.finite, t),
      significant: pAdjusted !== null && pAdjusted <= t.alpha,
      rows: { current: fin.counts.rows, current_finite: fin.counts.finite, reference: ref.count, reference_sample: ref.sample.length },
      non_finite: { nan: fin.counts.nan, pos_inf: fin.counts.posInf, neg_inf: fin.counts.negInf },
      reference_non_finite: { nan: ref.nonFinite.nan, pos_inf: ref.nonFinite.posInf, neg_inf: ref.nonFinite.negInf },
      bins: {
        edges: [...bins.edges],
        reference: [...bins.proportions],
        current: fin.counts.finite ? fin.counts.bins.map((c) => c / fin.counts.finite) : fin.counts.bins.map(() => 0),
        current_counts: fin.counts.bins,
      },
      reference_stats: { mean: ref.mean, std: ref.std, min: ref.min, max: ref.max },
      current_stats: currentSummary(fin.counts) ?? { mean: null, std: null, min: null, max: null },
    };
  };
  const features = featureFinals.map((f, i) => toDrift(f, adjusted.get(i) ?? null));
  const prediction = ctx.hasPrediction === false ? null : toDrift(predictionFinal, predictionFinal.fin.ks?.pvalue ?? null);

  const currentRows = Math.max(
    0,
    ...finals.slice(0, ctx.hasPrediction === false ? baseline.features.length : finals.length).map((f) => f.fin.counts.rows),
  );
  const judged = features.filter((f) => f.status !== 'insufficient_data');
  const count = (s: DriftStatus) => features.filter((f) => f.status === s).length;
  let status: DriftStatus;
  let score: number | null;
  if (currentRows < t.min_rows || judged.length === 0) {
    status = 'insufficient_data';
    score = null;
  } else {
    score = mean(judged.map((f) => (f.significant ? Math.min(f.psi!, SCORE_PSI_CAP) : 0)));
    const criticalShare = count('critical') / judged.length;
    const anyDrift = count('critical') + count('warning') > 0;
    if (prediction?.status === 'critical' || (criticalShare > 0 && criticalShare >= t.critical_feature_share) || score > t.psi_critical)
      status = 'critical';
    else if (anyDrift || prediction?.status === 'warning' || score >= t.psi_warning) status = 'warning';
    else status = 'healthy';
  }
  const drifted = features
    .filter((f) => f.status === 'warning' || f.status === 'critical')
    .sort((a, b) => (b.psi ?? 0) - (a.psi ?? 0))
    .map((f) => f.name);

  return {
    schema_version: DRIFT_REPORT_SCHEMA_VERSION,
    kind: 'drift',
    run_id: ctx.runId,
    created_at: ctx.createdAt.toISOString(),
    trigger: ctx.trigger,
    status,
    score,
    environment: ctx.environment,
    window: ctx.window,
    rows: {
      current: currentRows,
      reference: baseline.sampling.referenceRows,
      other_model_versions: ctx.otherModelVersions ?? {},
      partitions: ctx.partitions ?? 0,
    },
    model: { name: baseline.model.name, version: baseline.model.version },
    baseline: {
      source: ctx.baselineSource,
      sha256: ctx.baselineSha256,
      created_at: baseline.createdAt,
      activated_at: ctx.activatedAt,
      reference_rows: baseline.sampling.referenceRows,
      sample_size: baseline.sampling.sampleSize,
    },
    current_source: ctx.currentSource,
    code_version: codeVersion(),
    thresholds: t,
    summary: {
      features: features.length,
      healthy: count('healthy'),
      warning: count('warning'),
      critical: count('critical'),
      insufficient_data: count('insufficient_data'),
      drifted,
    },
    prediction,
    features,
    alert: { action: 'disabled', reason: 'not evaluated', previous_status: null, webhook: false, alerted_run_id: null, alerted_at: null },
    paths: { json: null, html: null },
  };
}
