// `npm run drift`: drift checks from the command line.
//
//   npm run drift -- --reference ref.csv --current cur.csv [--out report.json] [--html report.html] [--fail-on ...]
//       Compares two datasets (CSV with a header row, NDJSON, or Parquet), every row of both: PSI on the
//       reference's decile bins, and KS D and p equal to scipy.stats.ks_2samp on the same (finite) values.
//   npm run drift -- --env production [--since 24h] [--version 3] [--alert] [--out ...] [--html ...] [--fail-on ...]
//       Checks the stored inference logs of an environment against the active baseline (the same activities as
//       the timer, run in this process, with a progress line per partition); the report is stored in Blob too.
//
// Prints a summary table. Exit code 0 unless something failed, or --fail-on warning|critical is given and the
// run's status is at least that.
import fs from 'node:fs';
import path from 'node:path';
import { compactTime, Environment, ENVIRONMENTS } from '../../shared/platform/blobLayout';
import { getConfig } from '../../shared/platform/config';
import { DriftRunRequest } from '../../shared/drift/driftRun';
import { compareColumns } from './driftFileComparison';
import { readRunReport, runDriftInProcess } from '../../shared/drift/orchestration';
import { DriftReport, formatReportSummary, serializeReport } from '../../shared/drift/report';
import { renderReportHtml } from '../../shared/drift/reportHtml';
import { validateModelVersion } from '../../shared/model/modelVersion';
import { asUsage, parseChoice, parseCliArgs, runCli, UsageError } from './cliArgs';
import { readDataset } from './driftFiles';

const USAGE = `usage:
  npm run drift -- --reference <file> --current <file> [--out report.json] [--html report.html] [--fail-on warning|critical]
  npm run drift -- --env production|staging [--since 24h] [--version <model version>] [--alert] [--out report.json] [--html report.html] [--fail-on warning|critical]
files: .csv (header row of feature names), .ndjson/.jsonl, .parquet
--since, --version and --alert are for the stored logs (--env) only; --fail-on warning|critical exits 1 when the status is at least that, in both modes`;

/** `24h`, `90m`, `7d` → hours. */
export function parseSince(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([mhd])$/i.exec(text.trim());
  if (!m) throw new UsageError(`--since ${JSON.stringify(text)} is not valid: expected a duration such as 24h, 90m or 7d`);
  const hours = Number(m[1]) * { m: 1 / 60, h: 1, d: 24 }[m[2].toLowerCase() as 'm' | 'h' | 'd'];
  if (!(hours > 0) || hours > 24 * 90)
    throw new UsageError(`--since ${JSON.stringify(text)} is not valid: expected more than 0 and at most 90 days`);
  return hours;
}

async function fileMode(reference: string, current: string): Promise<DriftReport> {
  const t0 = performance.now();
  const [ref, cur] = [await readDataset(reference), await readDataset(current)];
  console.log(
    `read ${ref.rows} reference rows (${ref.columns.size} numeric columns) and ${cur.rows} current rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const now = new Date();
  const result = compareColumns(
    { source: path.resolve(reference), columns: ref.columns, rows: ref.rows },
    { source: path.resolve(current), columns: cur.columns, rows: cur.rows },
    { runId: `cli-${compactTime(now)}`, createdAt: now },
  );
  const notes = [
    ref.skipped.length || cur.skipped.length ? `text columns skipped: ${[...new Set([...ref.skipped, ...cur.skipped])].join(', ')}` : '',
    result.onlyReference.length ? `only in the reference: ${result.onlyReference.join(', ')}` : '',
    result.onlyCurrent.length ? `only in the current data: ${result.onlyCurrent.join(', ')}` : '',
    result.noFiniteReference.length ? `no finite reference value: ${result.noFiniteReference.join(', ')}` : '',
  ].filter(Boolean);
  for (const n of notes) console.log(`note: ${n}`);
  return result.report;
}

async function envMode(env: Environment, hours: number, version: string | undefined, alert: boolean): Promise<DriftReport> {
  const config = getConfig();
  const now = new Date();
  const request: DriftRunRequest = {
    env,
    modelName: config.driftModelName,
    modelVersion: version,
    windowEnd: now.toISOString(),
    windowHours: hours,
    trigger: 'cli',
    runId: `cli-${compactTime(now)}-${env}`,
    alert,
  };
  const started = performance.now();
  let lastLine = 0;
  const summary = await runDriftInProcess(request, {
    onProgress: (done, total, rows) => {
      // Every partition when there are few, about every 2 % (and at least every 5 s) when there are many.
      const now = performance.now();
      if (done === total || total <= 50 || done % Math.ceil(total / 50) === 0 || now - lastLine > 5000) {
        lastLine = now;
        const rate = rows / Math.max(1e-3, (now - started) / 1000);
        console.log(`partition ${done}/${total}: ${rows} rows so far (${Math.round(rate)} rows/s)`);
      }
    },
  });
  if (summary.status === 'skipped') throw new Error(`no drift check: ${summary.reason}`);
  const report = await readRunReport(summary);
  console.log(`stored drift-reports/${report.paths.json} and .html`);
  return report;
}

async function main(argv: string[]): Promise<number> {
  const { values } = parseCliArgs(argv, {
    reference: { type: 'string' },
    current: { type: 'string' },
    env: { type: 'string' },
    since: { type: 'string' },
    version: { type: 'string' },
    alert: { type: 'boolean' },
    out: { type: 'string' },
    html: { type: 'string' },
    'fail-on': { type: 'string' },
  });
  const failOn = values['fail-on'] === undefined ? undefined : parseChoice('fail-on', values['fail-on'], ['warning', 'critical']);
  let report: DriftReport;
  if (values.reference !== undefined || values.current !== undefined) {
    if (values.reference === undefined || values.current === undefined) throw new UsageError('--reference and --current go together');
    if (values.env !== undefined) throw new UsageError('--env is for stored logs; do not combine it with --reference/--current');
    const envOnly = (['since', 'version', 'alert'] as const).filter((o) => values[o] !== undefined).map((o) => `--${o}`);
    if (envOnly.length) {
      const list = envOnly.length === 1 ? envOnly[0] : `${envOnly.slice(0, -1).join(', ')} and ${envOnly[envOnly.length - 1]}`;
      throw new UsageError(
        `${list} ${envOnly.length === 1 ? 'applies' : 'apply'} to the stored logs (--env), not to --reference/--current`,
      );
    }
    report = await fileMode(values.reference, values.current);
  } else if (values.env !== undefined) {
    const env = parseChoice('env', values.env, ENVIRONMENTS);
    const hours = values.since === undefined ? undefined : parseSince(values.since);
    const version = values.version === undefined ? undefined : asUsage(() => validateModelVersion(values.version));
    report = await envMode(env, hours ?? getConfig().driftWindowHours, version, values.alert ?? false);
  } else {
    throw new UsageError('give --reference and --current (files), or --env (stored logs)');
  }
  console.log('');
  console.log(formatReportSummary(report));
  if (values.out) {
    fs.writeFileSync(values.out, serializeReport(report));
    console.log(`\nwrote ${values.out}`);
  }
  if (values.html) {
    fs.writeFileSync(values.html, renderReportHtml(report));
    console.log(`wrote ${values.html}`);
  }
  if (failOn === 'critical' && report.status === 'critical') return 1;
  if (failOn === 'warning' && (report.status === 'warning' || report.status === 'critical')) return 1;
  return 0;
}

if (require.main === module) runCli('drift', main, USAGE);
