// The drift report as one self-contained HTML page (stored beside the JSON): a verdict header, a sortable summary
// table, and per distribution a chart of the reference vs current proportions on the baseline's frozen PSI bins.
// Everything is inline (SVG, CSS and a few lines of script): the page must open from Blob storage, an email
// attachment or a disconnected laptop, so it loads nothing from anywhere.
import { DistributionDrift, DriftReport, DriftStatus } from './report';
import { nextDown } from './statistics/psi';

export const STATUS_COLOURS: Record<DriftStatus, string> = {
  healthy: '#1a7f37',
  warning: '#b08800',
  critical: '#cf222e',
  insufficient_data: '#6e7781',
};
const REFERENCE_COLOUR = '#8c96a0';
const CURRENT_COLOUR = '#0969da';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export function num(value: number | null, digits = 4): string {
  if (value === null || Number.isNaN(value)) return '–';
  if (value !== 0 && Math.abs(value) < 10 ** -digits) return value.toExponential(2);
  return value.toFixed(digits);
}

/** A compact label for a bin edge (edges may be 1e-7 or 12345.678), with `digits` significant digits. */
function edgeLabel(v: number, digits: number): string {
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(Math.max(1, digits - 2));
  return String(Number(v.toPrecision(digits)));
}

/**
 * Bin labels, with as few digits as keep neighbouring edges apart (0.9987 and 0.9999 are not both "1"). With
 * `referenceMin`, the first edge is the one just below it (`comparisonBins`) and its bin reads "<min".
 */
export function binLabels(edges: number[], referenceMin?: number): string[] {
  const below = referenceMin === undefined ? 0 : 1;
  for (let digits = 3; ; digits++) {
    const labels = [
      ...(below ? [`<${edgeLabel(referenceMin!, digits)}`] : []),
      ...edges.slice(below).map((e) => `≤${edgeLabel(e, digits)}`),
      `>${edgeLabel(edges[edges.length - 1], digits)}`,
    ];
    if (digits >= 17 || new Set(labels.slice(0, -1)).size === edges.length) return labels;
  }
}

/** A y-axis top with four round ticks: 4 × (1, 2, 2.5, 5 or 10 %, …). */
export function axisTop(maxP: number): number {
  for (const step of [0.01, 0.02, 0.025, 0.05, 0.1, 0.2, 0.25]) if (4 * step >= maxP) return 4 * step;
  return 1;
}

/** 24 h, 90 min, 4.2 s: a window length as people say it. */
export function durationLabel(hours: number): string {
  if (hours >= 1) return `${Number(hours.toPrecision(4))} h`;
  if (hours * 60 >= 1) return `${Number((hours * 60).toPrecision(3))} min`;
  return `${Number((hours * 3600).toPrecision(3))} s`;
}

export function badge(status: DriftStatus): string {
  return `<span class="badge" style="background:${STATUS_COLOURS[status]}">${escapeHtml(status.replace('_', ' '))}</span>`;
}

/** Grouped bars of reference vs current proportions per bin, as inline SVG. */
export function distributionChartSvg(d: DistributionDrift): string {
  const width = 420;
  const height = 210;
  const m = { top: 12, right: 26, bottom: 44, left: 38 };
  const plotW = width - m.left - m.right;
  const plotH = height - m.top - m.bottom;
  const ref = d.bins.reference;
  const cur = d.bins.current;
  const n = ref.length;
  const yMax = axisTop(Math.max(...ref, ...cur));
  const y = (p: number) => m.top + plotH - (p / yMax) * plotH;
  const slot = plotW / Math.max(n, 1);
  const barW = Math.max(1, slot * 0.38);
  const min = d.reference_stats.min;
  const belowMin = min !== null && d.bins.edges.length > 0 && d.bins.edges[0] === nextDown(min); // comparisonBins' first bin
  const labels = d.bins.edges.length ? binLabels(d.bins.edges, belowMin ? min : undefined) : [];
  const parts: string[] = [];
  for (let t = 0; t <= 4; t++) {
    const p = (yMax * t) / 4;
    parts.push(
      `<line x1="${m.left}" x2="${width - m.right}" y1="${y(p).toFixed(1)}" y2="${y(p).toFixed(1)}" stroke="#d0d7de" stroke-width="0.5"/>`,
      `<text x="${m.left - 4}" y="${(y(p) + 3).toFixed(1)}" text-anchor="end" class="tick">${Number((p * 100).toFixed(1))}%</text>`,
    );
  }
  for (let i = 0; i < n; i++) {
    const x0 = m.left + i * slot + slot * 0.1;
    const bar = (p: number, x: number, colour: string, who: string) =>
      `<rect x="${x.toFixed(1)}" y="${y(p).toFixed(1)}" width="${barW.toFixed(1)}" height="${(m.top + plotH - y(p)).toFixed(1)}" fill="${colour}"><title>${escapeHtml(`${who} ${labels[i] ?? ''}: ${(p * 100).toFixed(2)}%`)}</title></rect>`;
    parts.push(bar(ref[i], x0, REFERENCE_COLOUR, 'reference'), bar(cur[i] ?? 0, x0 + barW, CURRENT_COLOUR, 'current'));
    const lx = m.left + (i + 0.5) * slot;
    const ly = m.top + plotH + 10;
    parts.push(
      `<text x="${lx.toFixed(1)}" y="${ly}" transform="rotate(35 ${lx.toFixed(1)} ${ly})" class="tick">${escapeHtml(labels[i] ?? '')}</text>`,
    );
  }
  parts.push(`<line x1="${m.left}" x2="${width - m.right}" y1="${m.top + plotH}" y2="${m.top + plotH}" stroke="#57606a"/>`);
  const title = `${d.name}: reference vs current proportions per PSI bin`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">${parts.join('')}</svg>`;
}

function nonFinite(d: DistributionDrift): number {
  return d.non_finite.nan + d.non_finite.pos_inf + d.non_finite.neg_inf;
}

export const STATUS_RANK: Record<DriftStatus, number> = { critical: 3, warning: 2, insufficient_data: 1, healthy: 0 };

function tableRow(d: DistributionDrift): string {
  const cell = (value: number | null, text: string) => `<td data-v="${value === null || Number.isNaN(value) ? '' : value}">${text}</td>`;
  return (
    `<tr><td data-v="${escapeHtml(d.name)}"><a href="#chart-${escapeHtml(d.name)}">${escapeHtml(d.name)}</a></td>` +
    `<td data-v="${STATUS_RANK[d.status]}">${badge(d.status)}</td>` +
    cell(d.psi, num(d.psi)) +
    cell(d.ks.statistic, num(d.ks.statistic)) +
    cell(d.ks.pvalue, num(d.ks.pvalue)) +
    cell(d.ks.pvalue_adjusted, num(d.ks.pvalue_adjusted)) +
    cell(d.rows.current, String(d.rows.current)) +
    cell(nonFinite(d), nonFinite(d) ? `<b>${nonFinite(d)}</b>` : '0') +
    cell(d.reference_stats.mean, num(d.reference_stats.mean, 3)) +
    cell(d.current_stats.mean, num(d.current_stats.mean, 3)) +
    `</tr>`
  );
}

function chartCard(d: DistributionDrift): string {
  const nf = nonFinite(d);
  return `<figure class="card" id="chart-${escapeHtml(d.name)}">
<figcaption><b>${escapeHtml(d.name)}</b> ${badge(d.status)}<br><span class="meta">PSI ${num(d.psi)} · KS D ${num(d.ks.statistic)} · p ${num(d.ks.pvalue)} · p adj ${num(d.ks.pvalue_adjusted)}${nf ? ` · <b>${nf} NaN/Inf</b>` : ''}</span></figcaption>
${distributionChartSvg(d)}
</figure>`;
}

// Sorting (tables of class `sortable`): click a header; numbers compare by value (cells' data-v), empty cells last.
// Kept tiny and inline on purpose.
export const SORT_SCRIPT = `
document.querySelectorAll('table.sortable th').forEach(function (th, col) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0];
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[col].getAttribute('data-v'), y = b.cells[col].getAttribute('data-v');
      if (x === '' && y === '') return 0; if (x === '') return 1; if (y === '') return -1;
      var nx = Number(x), ny = Number(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return asc ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});`;

const PAGE_CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:0 0 4px} h2{font-size:17px;margin:28px 0 8px}
.badge{display:inline-block;color:#fff;border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;text-transform:uppercase}
.big .badge{font-size:15px;padding:3px 12px}
.meta{color:#57606a;font-size:12px}
.facts{display:flex;flex-wrap:wrap;gap:8px 28px;margin:12px 0}
.facts div{min-width:140px} .facts b{display:block;font-size:18px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums} th,td{padding:3px 10px;border-bottom:1px solid #d8dee4;text-align:right}
th:first-child,td:first-child{text-align:left} th{cursor:pointer;background:#f6f8fa;position:sticky;top:0;user-select:none}
th[aria-sort=ascending]::after{content:" ▲"} th[aria-sort=descending]::after{content:" ▼"}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(430px,1fr));gap:12px}
.card{border:1px solid #d8dee4;border-radius:6px;padding:8px;margin:0} .tick{font-size:9px;fill:#57606a}
.legend span{display:inline-block;width:10px;height:10px;margin:0 4px 0 12px;vertical-align:middle}
`;

/** Everything up to and including `<body>`: the report and the index of reports (reportIndex.ts) share it. */
export function pageHead(title: string, extraCss = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${PAGE_CSS}${extraCss}</style></head><body>`;
}

/** The whole page. Charts are ordered most drifted first; the table starts in the same order and sorts on click. */
export function renderReportHtml(report: DriftReport): string {
  const ordered = [...report.features].sort((a, b) => STATUS_RANK[b.status] - STATUS_RANK[a.status] || (b.psi ?? -1) - (a.psi ?? -1));
  const all = [...(report.prediction ? [report.prediction] : []), ...ordered];
  const where = report.environment
    ? `environment <b>${escapeHtml(report.environment)}</b>`
    : `file <b>${escapeHtml(report.current_source)}</b>`;
  const window = report.window
    ? `<br>window ${escapeHtml(report.window.start)} → ${escapeHtml(report.window.end)} (${escapeHtml(durationLabel(report.window.hours))})`
    : '';
  const t = report.thresholds;
  const otherVersions = Object.entries(report.rows.other_model_versions);
  const title = `Drift ${report.status.replace('_', ' ')} · ${report.model.name} ${report.model.version}${report.environment ? ` · ${report.environment}` : ''}`;
  return `${pageHead(title)}
<h1 class="big">${escapeHtml(report.model.name)} ${escapeHtml(report.model.version)} ${badge(report.status)}</h1>
<div class="meta">${where}${window}<br>run ${escapeHtml(report.run_id)} · ${escapeHtml(report.trigger)} · ${escapeHtml(report.created_at)} · code ${escapeHtml(report.code_version.version)}${report.code_version.commit ? ` (${escapeHtml(report.code_version.commit.slice(0, 12))})` : ''}</div>
<div class="facts">
<div>score<b>${num(report.score)}</b></div>
<div>current rows<b>${report.rows.current}</b></div>
<div>reference rows<b>${report.rows.reference}</b></div>
<div>critical / warning<b>${report.summary.critical} / ${report.summary.warning}</b></div>
<div>prediction drift<b>${report.prediction ? badge(report.prediction.status) : '–'}</b></div>
<div>alert<b>${escapeHtml(report.alert.action.replace('_', ' '))}</b><span class="meta">${escapeHtml(report.alert.reason)}</span></div>
</div>
<div class="meta">Baseline ${escapeHtml(report.baseline.source)}${report.baseline.sha256 ? ` (sha256 ${escapeHtml(report.baseline.sha256.slice(0, 12))})` : ''}, created ${escapeHtml(report.baseline.created_at)}.
A distribution drifts when its PSI on the baseline's bins reaches ${t.psi_warning} (warning) or exceeds ${t.psi_critical} (critical) <i>and</i> its Benjamini-Hochberg adjusted KS p-value is at most ${t.alpha}; fewer than ${t.min_rows} values give insufficient data.
${otherVersions.length ? `<br>Rows of other model versions left out: ${otherVersions.map(([v, c]) => `${escapeHtml(v)} (${c})`).join(', ')}.` : ''}</div>
<h2>Summary</h2>
<table class="sortable"><thead><tr><th>distribution</th><th>status</th><th>PSI</th><th>KS D</th><th>p</th><th>p adj</th><th>rows</th><th>NaN/Inf</th><th>ref mean</th><th>cur mean</th></tr></thead>
<tbody>
${all.map(tableRow).join('\n')}
</tbody></table>
<h2>Distributions</h2>
<div class="legend meta"><span style="background:${REFERENCE_COLOUR}"></span>reference (baseline)<span style="background:${CURRENT_COLOUR}"></span>current</div>
<div class="grid">
${all.map(chartCard).join('\n')}
</div>
<script>${SORT_SCRIPT}</script>
</body></html>
`;
}
