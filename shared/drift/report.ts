// The drift report: one JSON document per run, written to `drift-reports/env={env}/date={yyyy-mm-dd}/{run-id}.json`
// beside its HTML rendering. Users script against this shape, so it only grows: keys are never renamed or removed
// without bumping DRIFT_REPORT_SCHEMA_VERSION. Keys are snake_case throughout, matching the documented
// `features[].ks.pvalue_adjusted`.
import fs from 'node:fs';
import path from 'node:path';
import { getConfig } from '../platform/config';
import { findProjectRoot } from '../platform/projectRoot';

export const DRIFT_REPORT_SCHEMA_VERSION = 1;

/** Verdict of one feature, the prediction distribution, or the whole run. */
export type DriftStatus = 'healthy' | 'warning' | 'critical' | 'insufficient_data';

/** What started the run. */
export type DriftTrigger = 'timer' | 'baseline_event' | 'cli' | 'http' | 'replay';

export interface NonFiniteCounts {
  nan: number;
  pos_inf: number;
  neg_inf: number;
}

export interface SummaryStats {
  mean: number | null;
  std: number | null;
  min: number | null;
  max: number | null;
}

/** Drift of one distribution: a feature, or the predicted spam probability (`name: "probability"`). */
export interface DistributionDrift {
  name: string;
  /** PSI on the baseline's frozen bins; null when there are no current values. */
  psi: number | null;
  ks: {
    /** Two-sample KS D, as scipy.stats.ks_2samp(reference, current). */
    statistic: number | null;
    pvalue: number | null;
    /** Benjamini-Hochberg adjusted over the features of the run (the prediction is adjusted on its own: it is one test). */
    pvalue_adjusted: number | null;
    /** 'exact' or 'asymp', as SciPy chose. */
    method: string | null;
  };
  status: DriftStatus;
  /** The adjusted p-value is at most alpha. PSI alone, without significance, never raises the status. */
  significant: boolean;
  rows: {
    /** Current rows seen, finite or not. */
    current: number;
    /** Current finite values: what PSI and KS are computed on. */
    current_finite: number;
    /** Reference rows behind the baseline's bins. */
    reference: number;
    /** Size of the reference sample KS compares with. */
    reference_sample: number;
  };
  /** Current values that are NaN or infinite: counted and reported, never silently dropped. */
  non_finite: NonFiniteCounts;
  reference_non_finite: NonFiniteCounts;
  bins: {
    /**
     * Right-closed bin edges; bins: (-inf, e0], (e0, e1], ..., (e_last, +inf): the baseline's frozen deciles, with,
     * when the lowest decile is the reference minimum, one more edge in front, the largest double below the minimum
     * (bin 0: values below every reference value, reference proportion 0).
     */
    edges: number[];
    reference: number[];
    current: number[];
    current_counts: number[];
  };
  reference_stats: SummaryStats;
  current_stats: SummaryStats;
}

export type FeatureDrift = DistributionDrift;

export type AlertAction = 'sent' | 'suppressed' | 'resolved_sent' | 'not_needed' | 'failed' | 'disabled';

/** What the alerting step did for this run. */
export interface AlertOutcome {
  action: AlertAction;
  reason: string;
  /** The ongoing state before this run (from the alert state in Blob). */
  previous_status: DriftStatus | null;
  /** Whether a webhook is configured; without one, alerts are only logged. */
  webhook: boolean;
  /** Run that sent the alert now in force (this run when action is 'sent'). */
  alerted_run_id: string | null;
  alerted_at: string | null;
}

export interface DriftThresholds {
  psi_warning: number;
  psi_critical: number;
  alpha: number;
  min_rows: number;
  critical_feature_share: number;
}

export interface DriftReport {
  schema_version: typeof DRIFT_REPORT_SCHEMA_VERSION;
  kind: 'drift';
  run_id: string;
  created_at: string;
  trigger: DriftTrigger;
  status: DriftStatus;
  /** Mean PSI over the features with a verdict, counting only significant ones (others as 0), each capped at 1;
   * null without a verdict. */
  score: number | null;
  /** Environment of the logs; null in file mode (CLI). */
  environment: string | null;
  /** The log window; null in file mode. */
  window: { start: string; end: string; hours: number } | null;
  rows: {
    /** Rows of the model version compared. */
    current: number;
    reference: number;
    /** Rows of the window logged by other model versions, left out of the comparison, by version. */
    other_model_versions: Record<string, number>;
    partitions: number;
  };
  model: { name: string; version: string };
  baseline: {
    /** Blob path or file the baseline came from. */
    source: string;
    sha256: string | null;
    created_at: string;
    activated_at: string | null;
    reference_rows: number;
    sample_size: number;
  };
  /** Where the current data came from: `logs` (the window of an environment) or the file given to the CLI. */
  current_source: string;
  code_version: { version: string; commit: string | null };
  thresholds: DriftThresholds;
  summary: {
    features: number;
    healthy: number;
    warning: number;
    critical: number;
    insufficient_data: number;
    /** Names of warning and critical features, most drifted (PSI) first. */
    drifted: string[];
  };
  /** The model's predicted spam probability against its training distribution; null when the current data has no
   * `probability` column (file mode). */
  prediction: DistributionDrift | null;
  features: FeatureDrift[];
  alert: AlertOutcome;
  /** Where this report and its HTML page are stored; null when not stored (CLI without --out). */
  paths: { json: string | null; html: string | null };
}

let codeVersionCache: DriftReport['code_version'] | undefined;

/** package.json version and the git commit: BUILD_COMMIT when set (deployments), else read from .git. */
export function codeVersion(): DriftReport['code_version'] {
  if (codeVersionCache) return codeVersionCache;
  const root = findProjectRoot();
  let version = '0.0.0';
  if (root) {
    try {
      version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: string }).version ?? version;
    } catch {
      // A report without the version is better than no report.
    }
  }
  const commit = getConfig().buildCommit ?? (root ? gitCommit(root) : null);
  codeVersionCache = { version, commit };
  return codeVersionCache;
}

/** HEAD's commit from a checkout's .git, without running git (not installed in the Functions image). */
export function gitCommit(root: string): string | null {
  try {
    let gitDir = path.join(root, '.git');
    // A linked worktree's .git is a file naming its own folder (HEAD); branches live in the common folder.
    if (fs.statSync(gitDir).isFile()) {
      const linked = /^gitdir: (.+)$/m.exec(fs.readFileSync(gitDir, 'utf8'))?.[1];
      if (!linked) return null;
      gitDir = path.resolve(root, linked.trim());
    }
    const commonFile = path.join(gitDir, 'commondir');
    const commonDir = fs.existsSync(commonFile) ? path.resolve(gitDir, fs.readFileSync(commonFile, 'utf8').trim()) : gitDir;
    const head = fs.readFileSync(path.join(gitDir, 'HEAD'), 'utf8').trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head;
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (!ref) return null;
    const loose = path.join(commonDir, ref);
    if (fs.existsSync(loose)) return fs.readFileSync(loose, 'utf8').trim();
    const packed = fs.readFileSync(path.join(commonDir, 'packed-refs'), 'utf8');
    const line = packed.split('\n').find((l) => l.endsWith(` ${ref}`));
    return line ? line.slice(0, 40) : null;
  } catch {
    return null;
  }
}

/** The canonical JSON text of a report. */
export function serializeReport(report: DriftReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

function fmt(value: number | null, digits: number): string {
  if (value === null || Number.isNaN(value)) return '-';
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(1);
  return value.toFixed(digits);
}

function nonFiniteTotal(n: NonFiniteCounts): number {
  return n.nan + n.pos_inf + n.neg_inf;
}

/**
 * A plain-text summary: the verdict line and a table of the distributions, most drifted first (by status, then PSI).
 * `limit` bounds the feature rows (the drifted ones are always shown).
 */
export function formatReportSummary(report: DriftReport, options: { limit?: number } = {}): string {
  const where = report.environment ? `env=${report.environment}` : report.current_source;
  const window = report.window ? ` window ${report.window.start} .. ${report.window.end}` : '';
  const lines = [
    `Drift ${report.status.toUpperCase()} score=${fmt(report.score, 4)} ${where}${window}`,
    `model ${report.model.name} ${report.model.version}; current rows ${report.rows.current}, reference rows ${report.rows.reference}; ` +
      `features: ${report.summary.critical} critical, ${report.summary.warning} warning, ${report.summary.healthy} healthy, ${report.summary.insufficient_data} insufficient data; alert: ${report.alert.action}`,
  ];
  const rank: Record<DriftStatus, number> = { critical: 0, warning: 1, insufficient_data: 2, healthy: 3 };
  const sorted = [...report.features].sort((a, b) => rank[a.status] - rank[b.status] || (b.psi ?? -1) - (a.psi ?? -1));
  const shown = sorted.filter((f, i) => i < (options.limit ?? sorted.length) || f.status === 'warning' || f.status === 'critical');
  const header = ['distribution', 'status', 'psi', 'ks_d', 'p', 'p_adj', 'rows', 'nan/inf'];
  const rows = [...(report.prediction ? [report.prediction] : []), ...shown].map((d) => [
    d.name,
    d.status,
    fmt(d.psi, 4),
    fmt(d.ks.statistic, 4),
    fmt(d.ks.pvalue, 4),
    fmt(d.ks.pvalue_adjusted, 4),
    String(d.rows.current),
    String(nonFiniteTotal(d.non_finite)),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  lines.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
  if (shown.length < sorted.length) lines.push(`... ${sorted.length - shown.length} more healthy features (see the report)`);
  return lines.join('\n');
}
