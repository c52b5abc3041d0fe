// File mode (the CLI, `npm run drift -- --reference A --current B`): two in-memory datasets, every row, no baseline
// blob. The reference becomes a baseline built on the spot, and the report comes from the same computeDriftReport
// as a scheduled run's.
import path from 'node:path';
import { buildBaseline, PREDICTION_DISTRIBUTION_NAME } from '../../shared/drift/baseline';
import { computeDriftReport } from '../../shared/drift/driftScore';
import { addValues, createPartialCounts, mergePartialCounts } from '../../shared/drift/statistics/partialCounts';
import { DriftReport, DriftThresholds } from '../../shared/drift/report';

export interface ColumnsComparison {
  report: DriftReport;
  /** Columns compared (in reference order), and the ones only one side has. */
  compared: string[];
  onlyReference: string[];
  onlyCurrent: string[];
  /** Columns without a single finite reference value (nothing to bin). */
  noFiniteReference: string[];
}

/**
 * Compare two datasets column by column: the reference becomes a baseline whose KS sample is every finite value
 * (so D and p equal scipy.stats.ks_2samp on the finite values of both files), and the current side is counted in
 * one partial. A `probability` column on both sides is the prediction distribution.
 */
export function compareColumns(
  reference: { source: string; columns: Map<string, Float64Array>; rows: number },
  current: { source: string; columns: Map<string, Float64Array>; rows: number },
  options: { runId: string; createdAt: Date; thresholds?: DriftThresholds },
): ColumnsComparison {
  const isPrediction = (n: string) => n === PREDICTION_DISTRIBUTION_NAME;
  const refNames = [...reference.columns.keys()];
  const curNames = new Set(current.columns.keys());
  const noFiniteReference = refNames.filter((n) => !reference.columns.get(n)!.some(Number.isFinite));
  const compared = refNames.filter((n) => curNames.has(n) && !isPrediction(n) && !noFiniteReference.includes(n));
  if (compared.length === 0) throw new RangeError('the two datasets have no numeric column in common');
  const hasPrediction = reference.columns.has(PREDICTION_DISTRIBUTION_NAME) && current.columns.has(PREDICTION_DISTRIBUTION_NAME);
  const n = reference.rows;
  const width = compared.length;
  const flat = new Float64Array(n * width);
  compared.forEach((name, j) => {
    const col = reference.columns.get(name)!;
    for (let i = 0; i < n; i++) flat[i * width + j] = col[i];
  });
  const rows = Array.from({ length: n }, (_, i) => flat.subarray(i * width, (i + 1) * width));
  const baseline = buildBaseline({
    modelName: 'file',
    modelVersion: path.basename(reference.source),
    featureNames: compared,
    rows,
    // Without a prediction column the builder still needs one; it is not reported (hasPrediction: false).
    probabilities: hasPrediction
      ? reference.columns.get(PREDICTION_DISTRIBUTION_NAME)!
      : rows.map((r) => (Number.isFinite(r[0]) ? r[0] : 0)),
    sampleSize: Math.max(1, n),
    createdAt: options.createdAt,
  });
  const partial = createPartialCounts(baseline);
  compared.forEach((name, j) => addValues(baseline, partial, j, current.columns.get(name)!));
  if (hasPrediction) addValues(baseline, partial, compared.length, current.columns.get(PREDICTION_DISTRIBUTION_NAME)!);
  const merged = mergePartialCounts(baseline, [partial]);
  const report = computeDriftReport(baseline, merged, {
    runId: options.runId,
    createdAt: options.createdAt,
    trigger: 'cli',
    environment: null,
    window: null,
    baselineSource: reference.source,
    baselineSha256: null,
    activatedAt: null,
    currentSource: current.source,
    thresholds: options.thresholds,
    hasPrediction,
  });
  report.rows.current = current.rows;
  report.alert = {
    action: 'disabled',
    reason: 'file comparison: no alerts',
    previous_status: null,
    webhook: false,
    alerted_run_id: null,
    alerted_at: null,
  };
  return {
    report,
    compared,
    onlyReference: refNames.filter((x) => !curNames.has(x)),
    onlyCurrent: [...curNames].filter((x) => !reference.columns.has(x)),
    noFiniteReference,
  };
}
