// The history of drift runs people look at: `drift-reports/index.json`, one compact entry per run (newest window
// first, capped), and `drift-reports/index.html` rendered from it after every run, with each environment's latest
// status, its score over time and a link to every report. The reports themselves stay where they are; the index
// only points at them, so losing it loses no report (the next run starts a new one).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CONTAINERS,
  DRIFT_REPORT_INDEX_HTML,
  DRIFT_REPORT_INDEX_JSON,
  ENVIRONMENTS,
  Environment,
  isEnvironment,
} from '../platform/blobLayout';
import { conditionalWrite, getContainerClient, readJsonBlob, writeJsonBlob } from '../platform/blobStorage';
import { BadRequestError } from '../platform/errors';
import { DriftReport, DriftStatus, DriftTrigger } from './report';
import { axisTop, badge, escapeHtml, num, pageHead, SORT_SCRIPT, STATUS_COLOURS, STATUS_RANK } from './reportHtml';

/** The newest runs the index keeps: about 300 bytes each, so the index and its page stay well under a megabyte. */
export const DRIFT_INDEX_CAP = 1000;

export interface DriftIndexEntry {
  env: Environment;
  run_id: string;
  window_start: string;
  window_end: string;
  created_at: string;
  trigger: DriftTrigger;
  status: DriftStatus;
  score: number | null;
  model: { name: string; version: string };
  /** Blob names in the drift-reports container, which are also the page's relative links. */
  paths: { json: string; html: string };
}

export interface DriftIndex {
  schema_version: 1;
  kind: 'drift_index';
  /** When the last run was added; null when no run has finished yet. */
  updated_at: string | null;
  /** Newest window end first. */
  runs: DriftIndexEntry[];
}

export function indexEntry(report: DriftReport): DriftIndexEntry {
  const { environment: env, window, paths } = report;
  if (env === null || !isEnvironment(env) || !window || !paths.json || !paths.html) {
    throw new Error(`drift report ${report.run_id} is not a stored run of an environment`);
  }
  return {
    env,
    run_id: report.run_id,
    window_start: window.start,
    window_end: window.end,
    created_at: report.created_at,
    trigger: report.trigger,
    status: report.status,
    score: report.score,
    model: { name: report.model.name, version: report.model.version },
    paths: { json: paths.json, html: paths.html },
  };
}

const sameRun = (a: DriftIndexEntry, b: DriftIndexEntry) => a.env === b.env && a.run_id === b.run_id;

/**
 * The index with `entry` in it: a run already listed (a retried finish step) is replaced, not repeated; newest window
 * end first (run id breaks ties, so the order is the same whoever writes); the oldest beyond `cap` are dropped.
 */
export function addToIndex(index: DriftIndex | undefined, entry: DriftIndexEntry, now: Date, cap = DRIFT_INDEX_CAP): DriftIndex {
  const runs = [entry, ...(index?.runs ?? []).filter((r) => !sameRun(r, entry))];
  runs.sort((a, b) => Date.parse(b.window_end) - Date.parse(a.window_end) || (a.run_id < b.run_id ? 1 : a.run_id > b.run_id ? -1 : 0));
  return { schema_version: 1, kind: 'drift_index', updated_at: now.toISOString(), runs: runs.slice(0, cap) };
}

function emptyIndex(): DriftIndex {
  return { schema_version: 1, kind: 'drift_index', updated_at: null, runs: [] };
}

const isText = (v: unknown): v is string => typeof v === 'string';

/** An entry as this file writes it: anything else in a stored index (an edit by hand, a damaged blob) is left out. */
function isIndexEntry(v: unknown): v is DriftIndexEntry {
  const r = v as Partial<DriftIndexEntry> | null;
  return (
    typeof r === 'object' &&
    r !== null &&
    isText(r.env) &&
    isEnvironment(r.env) &&
    [r.run_id, r.window_start, r.window_end, r.created_at, r.trigger, r.model?.name, r.model?.version, r.paths?.json, r.paths?.html].every(
      isText,
    ) &&
    Object.hasOwn(STATUS_COLOURS, r.status ?? '') &&
    (r.score === null || (typeof r.score === 'number' && Number.isFinite(r.score))) &&
    !Number.isNaN(Date.parse(r.window_end!))
  );
}

/** The stored index, without entries that are not well formed; an empty one when there is none yet or it is no index. */
async function readIndex(): Promise<{ index: DriftIndex; etag?: string }> {
  let stored;
  try {
    stored = await readJsonBlob<DriftIndex>(CONTAINERS.driftReports, DRIFT_REPORT_INDEX_JSON);
  } catch (err) {
    // Not JSON (a damaged blob): start a new index over it rather than leave the history stuck; `*` matches any blob.
    if (err instanceof SyntaxError) return { index: emptyIndex(), etag: '*' };
    throw err;
  }
  if (!stored) return { index: emptyIndex() };
  const v = stored.value as Partial<DriftIndex> | null;
  if (v?.kind !== 'drift_index' || !Array.isArray(v.runs)) return { index: emptyIndex(), etag: stored.etag };
  return {
    index: { ...emptyIndex(), updated_at: isText(v.updated_at) ? v.updated_at : null, runs: v.runs.filter(isIndexEntry) },
    etag: stored.etag,
  };
}

export interface IndexUpdateOptions {
  /** Attempts of the read-modify-write when other runs keep changing the index in between. */
  attempts?: number;
  now?: Date;
}

/**
 * Add a stored report to index.json, at the ETag it was read at, so that two runs finishing together both land (the
 * loser re-reads and tries again), then render index.html from what is stored.
 */
export async function updateDriftIndex(report: DriftReport, options: IndexUpdateOptions = {}): Promise<DriftIndex> {
  const entry = indexEntry(report);
  const attempts = options.attempts ?? 8;
  for (let attempt = 1; ; attempt++) {
    const { index, etag } = await readIndex();
    const next = addToIndex(index, entry, options.now ?? new Date());
    const result = await conditionalWrite<DriftIndex>({
      container: CONTAINERS.driftReports,
      blob: DRIFT_REPORT_INDEX_JSON,
      value: next,
      condition: etag === undefined ? { ifNoneMatch: '*' } : { ifMatch: etag },
      // A write whose answer was lost counts when the stored index lists this run.
      isOurs: (stored) => Array.isArray(stored?.runs) && stored.runs.some((r) => sameRun(r, entry)),
    });
    if (result.outcome === 'written') break;
    if (attempt >= attempts) throw result.error;
    // Adding the entry again is harmless (it replaces itself), so an unknown outcome is retried like a conflict.
    await sleep(20 + Math.random() * 40 * attempt);
  }
  return writeIndexPage();
}

/**
 * Render index.html from the stored index. Two runs may render in either order; each checks after writing that the
 * index has not changed since it read it, and renders again if it has, so the last page written shows every run.
 */
async function writeIndexPage(): Promise<DriftIndex> {
  const blob = getContainerClient(CONTAINERS.driftReports).getBlobClient(DRIFT_REPORT_INDEX_JSON);
  for (let attempt = 1; ; attempt++) {
    const { index, etag } = await readIndex();
    await writeJsonBlob(CONTAINERS.driftReports, DRIFT_REPORT_INDEX_HTML, renderIndexHtml(index), undefined, 'text/html; charset=utf-8');
    if (attempt >= 5 || (await blob.getProperties()).etag === etag) return index;
  }
}

/** GET /api/drift/reports: the index, or one environment's runs of it. */
export async function listDriftReports(env: string | null): Promise<DriftIndex> {
  if (env !== null && !isEnvironment(env)) {
    throw new BadRequestError(`env must be one of ${ENVIRONMENTS.join(', ')}, got ${JSON.stringify(env)}`, 'invalid_env');
  }
  const { index } = await readIndex();
  return env === null ? index : { ...index, runs: index.runs.filter((r) => r.env === env) };
}

// The page.

/** The href of a report: only blob names of the report layout, so a tampered index cannot link elsewhere. */
function reportHref(path: string): string | undefined {
  return /^env=[a-z]+\/date=\d{4}-\d{2}-\d{2}\/[^/?#]+\.(html|json)$/.test(path) ? escapeHtml(encodeURI(path)) : undefined;
}

function reportLink(path: string, text: string): string {
  const href = reportHref(path);
  return href ? `<a href="${href}">${text}</a>` : '–';
}

const shortTime = (iso: string) => iso.slice(0, 16).replace('T', ' ');

/** The score of an environment's runs over time (window end), points coloured by status, as inline SVG. */
export function scoreChartSvg(env: string, runs: DriftIndexEntry[]): string {
  const width = 640;
  const height = 200;
  const m = { top: 12, right: 16, bottom: 30, left: 44 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const ordered = [...runs].sort((a, b) => Date.parse(a.window_end) - Date.parse(b.window_end));
  const t0 = Date.parse(ordered[0].window_end);
  const t1 = Date.parse(ordered[ordered.length - 1].window_end);
  const x = (r: DriftIndexEntry) => (t1 === t0 ? m.left + plotW / 2 : m.left + ((Date.parse(r.window_end) - t0) / (t1 - t0)) * plotW);
  const yMax = axisTop(Math.max(0, ...ordered.map((r) => r.score ?? 0)));
  const y = (score: number) => m.top + plotH - (Math.min(score, yMax) / yMax) * plotH;
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const v = (yMax * t) / 4;
    parts.push(
      `<line x1="${m.left}" x2="${width - m.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#d0d7de" stroke-width="0.5"/>`,
      `<text x="${m.left - 4}" y="${(y(v) + 3).toFixed(1)}" text-anchor="end" class="tick">${Number(v.toFixed(3))}</text>`,
    );
  }
  const scored = ordered.filter((r) => r.score !== null);
  if (scored.length > 1) {
    const points = scored.map((r) => `${x(r).toFixed(1)},${y(r.score!).toFixed(1)}`).join(' ');
    parts.push(`<polyline points="${points}" fill="none" stroke="#57606a" stroke-width="1"/>`);
  }
  for (const r of ordered) {
    const title = `<title>${escapeHtml(`${shortTime(r.window_end)} · ${r.status.replace('_', ' ')} · score ${num(r.score)} · ${r.model.name} ${r.model.version} · ${r.run_id}`)}</title>`;
    // Runs without a verdict have no score: a grey mark on the axis, so that gaps in the history show.
    parts.push(
      r.score === null
        ? `<rect x="${(x(r) - 1.5).toFixed(1)}" y="${m.top + plotH - 8}" width="3" height="8" fill="${STATUS_COLOURS[r.status]}">${title}</rect>`
        : `<circle cx="${x(r).toFixed(1)}" cy="${y(r.score).toFixed(1)}" r="3.5" fill="${STATUS_COLOURS[r.status]}">${title}</circle>`,
    );
  }
  parts.push(
    `<line x1="${m.left}" x2="${width - m.right}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#57606a"/>`,
    `<text x="${m.left}" y="${height - 8}" class="tick">${escapeHtml(shortTime(ordered[0].window_end))}</text>`,
  );
  if (t1 !== t0) {
    parts.push(
      `<text x="${width - m.right}" y="${height - 8}" text-anchor="end" class="tick">${escapeHtml(shortTime(ordered[ordered.length - 1].window_end))}</text>`,
    );
  }
  const label = `${env}: drift score per run over time`;
  return `<svg xmlns="http://www.w3.org/2000/svg" class="score-chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(label)}">${parts.join('')}</svg>`;
}

function environmentSection(env: string, runs: DriftIndexEntry[]): string {
  const latest = runs[0];
  return `<section class="card env" id="env-${escapeHtml(env)}">
<h2>${escapeHtml(env)} ${badge(latest.status)}</h2>
<div class="meta">latest run ${reportLink(latest.paths.html, escapeHtml(latest.run_id))} · window ${escapeHtml(latest.window_start)} → ${escapeHtml(latest.window_end)} · score ${num(latest.score)} · ${escapeHtml(latest.model.name)} ${escapeHtml(latest.model.version)} · ${runs.length} run(s) listed</div>
${scoreChartSvg(env, runs)}
</section>`;
}

function runRow(r: DriftIndexEntry): string {
  return (
    `<tr><td data-v="${escapeHtml(r.env)}">${escapeHtml(r.env)}</td>` +
    `<td data-v="${escapeHtml(r.window_end)}">${escapeHtml(shortTime(r.window_end))}</td>` +
    `<td data-v="${STATUS_RANK[r.status]}">${badge(r.status)}</td>` +
    `<td data-v="${r.score ?? ''}">${num(r.score)}</td>` +
    `<td data-v="${escapeHtml(r.model.version)}">${escapeHtml(`${r.model.name} ${r.model.version}`)}</td>` +
    `<td data-v="${escapeHtml(r.trigger)}">${escapeHtml(r.trigger)}</td>` +
    `<td data-v="${escapeHtml(r.run_id)}">${reportLink(r.paths.html, escapeHtml(r.run_id))} <span class="meta">${reportLink(r.paths.json, 'json')}</span></td></tr>`
  );
}

/** The whole page: per environment its latest status and score chart, then every run newest first (sortable). */
export function renderIndexHtml(index: DriftIndex): string {
  const envs = [...new Set(index.runs.map((r) => r.env))].sort(
    (a, b) => (ENVIRONMENTS as readonly string[]).indexOf(a) - (ENVIRONMENTS as readonly string[]).indexOf(b),
  );
  const sections = envs.map((env) =>
    environmentSection(
      env,
      index.runs.filter((r) => r.env === env),
    ),
  );
  return `${pageHead('Drift reports', '.env{margin:12px 0;max-width:660px} .env h2{margin:0 0 4px}\n')}
<h1>Drift reports</h1>
<div class="meta">${index.runs.length} run(s), newest first${index.updated_at ? ` · updated ${escapeHtml(index.updated_at)}` : ''}. The score is the mean PSI over the features with a verdict (significant ones only, each capped at 1); runs with insufficient data have none and show as grey marks.</div>
${sections.length ? sections.join('\n') : '<p>No drift run has finished yet.</p>'}
<h2>Runs</h2>
<table class="sortable"><thead><tr><th>environment</th><th>window end (UTC)</th><th>status</th><th>score</th><th>model</th><th>trigger</th><th>report</th></tr></thead>
<tbody>
${index.runs.map(runRow).join('\n')}
</tbody></table>
<script>${SORT_SCRIPT}</script>
</body></html>
`;
}
