import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { codeVersion, formatReportSummary, gitCommit, serializeReport } from '../../../shared/drift/report';
import { binLabels, distributionChartSvg, durationLabel, escapeHtml, renderReportHtml } from '../../../shared/drift/reportHtml';
import { distribution, handBuiltReport } from '../../helpers/driftFixtures';
import { REPO_ROOT } from '../../helpers/paths';

describe('drift report JSON', () => {
  it('keeps the documented top-level shape users script against', () => {
    const parsed = JSON.parse(serializeReport(handBuiltReport()));
    expect(parsed.status).toBe('critical');
    expect(parsed.score).toBe(0.135);
    for (const f of parsed.features) {
      expect(Object.keys(f)).toEqual(expect.arrayContaining(['name', 'psi', 'ks', 'status', 'bins', 'non_finite', 'rows']));
      expect(Object.keys(f.ks).sort()).toEqual(['method', 'pvalue', 'pvalue_adjusted', 'statistic']);
      expect(f.bins.reference).toHaveLength(f.bins.edges.length + 1);
      expect(f.bins.current).toHaveLength(f.bins.edges.length + 1);
    }
    expect(Object.keys(parsed)).toEqual(
      expect.arrayContaining(['window', 'rows', 'model', 'baseline', 'code_version', 'thresholds', 'prediction', 'alert', 'paths']),
    );
  });

  it('records the package version and the checked-out commit', () => {
    const { version, commit } = codeVersion();
    expect(version).toBe(JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    expect(commit).toBe(head);
    expect(gitCommit('/nonexistent')).toBeNull();
  });

  it('prints a summary table with drifted features first and the NaN/Inf counts', () => {
    const text = formatReportSummary(handBuiltReport());
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Drift CRITICAL score=0\.1350 env=production window 2026-11-25T06:00:00.000Z/);
    const body = lines.slice(4).map((l) => l.split(/\s+/)[0]);
    expect(body).toEqual(['probability', 'body_chars_log', 'url_count_log', 'subject_chars_log', 'html_present']);
    expect(lines.find((l) => l.startsWith('html_present'))).toMatch(/\s4$/);
    const limited = formatReportSummary(handBuiltReport(), { limit: 1 });
    expect(limited).toContain('url_count_log'); // drifted ones are always listed
    expect(limited).not.toContain('subject_chars_log');
    expect(limited).toContain('... 2 more healthy features');
  });
});

describe('drift report HTML', () => {
  const html = renderReportHtml(handBuiltReport());

  it('is self-contained: no external script, stylesheet, image or font', () => {
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/(src|href)="https?:/i);
    expect(html).not.toMatch(/url\(/i);
  });

  it('has one chart per distribution with bars for both sides and a sortable table row each', () => {
    expect(html.match(/<svg /g)).toHaveLength(5);
    expect(html.match(/<tbody>[\s\S]*<\/tbody>/)![0].match(/<tr>/g)).toHaveLength(5);
    expect(html).toContain('class="sortable"');
    const svg = distributionChartSvg(distribution('x', 'critical', 0.3));
    expect(svg.match(/<rect /g)).toHaveLength(8); // 4 bins x (reference, current)
    expect(svg).toContain('reference ≤0.1: 20.00%');
    expect(svg).toContain('current &gt;2: 30.00%');
    expect(svg).toContain('>40%</text>'); // round axis: 4 ticks of 10 %
    expect(binLabels([0.9987, 0.9999, 1])).toEqual(['≤0.9987', '≤0.9999', '≤1', '>1']);
    expect(binLabels([1e-7, 0.5, 12345.5])).toEqual(['≤1.0e-7', '≤0.5', '≤1.2e+4', '>1.2e+4']);
  });

  it('orders charts most drifted first and escapes names', () => {
    const order = [...html.matchAll(/<figure class="card" id="chart-([^"]+)"/g)].map((m) => m[1]);
    expect(order).toEqual(['probability', 'body_chars_log', 'url_count_log', 'subject_chars_log', 'html_present']);
    const evil = renderReportHtml(handBuiltReport({ features: [distribution('<script>alert(1)</script>', 'healthy', 0.01)] }));
    expect(evil).not.toContain('<script>alert(1)</script>');
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });

  it('shows the verdict, the alert outcome and the NaN/Inf counts', () => {
    expect(html).toContain('<title>Drift critical · spam-detector 1 · production</title>');
    expect(html).toMatch(/html_present<\/a><\/td>.*<b>4<\/b>/);
    expect(html).toContain('not decided yet');
    expect(html).toContain('(24 h)');
    expect([durationLabel(24), durationLabel(1.5), durationLabel(0.25), durationLabel(0.00116)]).toEqual([
      '24 h',
      '1.5 h',
      '15 min',
      '4.18 s',
    ]);
  });
});
