import { addToIndex, DriftIndex, DriftIndexEntry, indexEntry, renderIndexHtml } from '../../../shared/drift/reportIndex';
import { handBuiltReport } from '../../helpers/driftFixtures';

const NOW = new Date('2026-12-01T00:00:00.000Z');

function entry(env: 'production' | 'staging', hour: number, overrides: Partial<DriftIndexEntry> = {}): DriftIndexEntry {
  const end = new Date(Date.UTC(2026, 10, 26, hour)).toISOString();
  const runId = `drift-${env}-${hour}`;
  return {
    env,
    run_id: runId,
    window_start: new Date(Date.parse(end) - 24 * 3600_000).toISOString(),
    window_end: end,
    created_at: end,
    trigger: 'timer',
    status: 'healthy',
    score: hour / 100,
    model: { name: 'spam-detector', version: '1' },
    paths: { json: `env=${env}/date=2026-11-26/${runId}.json`, html: `env=${env}/date=2026-11-26/${runId}.html` },
    ...overrides,
  };
}

function indexOf(...entries: DriftIndexEntry[]): DriftIndex {
  return entries.reduce<DriftIndex | undefined>((index, e) => addToIndex(index, e, NOW), undefined)!;
}

describe('drift report index', () => {
  it('lists a stored report by its environment, window, verdict and paths', () => {
    const report = handBuiltReport();
    expect(indexEntry(report)).toEqual({
      env: 'production',
      run_id: 'run-1',
      window_start: report.window!.start,
      window_end: report.window!.end,
      created_at: report.created_at,
      trigger: 'timer',
      status: 'critical',
      score: 0.135,
      model: { name: 'spam-detector', version: '1' },
      paths: report.paths,
    });
    expect(() => indexEntry(handBuiltReport({ environment: null }))).toThrow(/not a stored run of an environment/);
  });

  it('keeps the newest window first whatever the order runs finish in, and a retried run once', () => {
    const index = indexOf(
      entry('production', 3),
      entry('staging', 5),
      entry('production', 1),
      entry('production', 3, { status: 'warning' }),
    );
    expect(index.runs.map((r) => r.run_id)).toEqual(['drift-staging-5', 'drift-production-3', 'drift-production-1']);
    expect(index.runs[1].status).toBe('warning');
    expect(index.updated_at).toBe(NOW.toISOString());
    // Same window end: the run id decides, so every writer orders alike.
    const tie = indexOf(entry('production', 2, { run_id: 'a' }), entry('staging', 2, { run_id: 'b' }));
    expect(tie.runs.map((r) => r.run_id)).toEqual(['b', 'a']);
  });

  it('drops the oldest runs beyond the cap', () => {
    let index: DriftIndex | undefined;
    for (let h = 0; h < 12; h++) index = addToIndex(index, entry('production', h), NOW, 5);
    expect(index!.runs.map((r) => r.run_id)).toEqual([11, 10, 9, 8, 7].map((h) => `drift-production-${h}`));
    // A run older than every kept one does not get in once the index is full.
    expect(addToIndex(index, entry('staging', 0), NOW, 5).runs).toEqual(index!.runs);
  });
});

describe('drift report index page', () => {
  const index = indexOf(
    entry('production', 1),
    entry('production', 2, { status: 'warning', score: 0.12 }),
    entry('production', 3, { status: 'insufficient_data', score: null }),
    entry('staging', 2, { status: 'critical', score: 0.4 }),
  );

  it('shows each environment once, with its latest status and one score chart', () => {
    const html = renderIndexHtml(index);
    expect(html.match(/<section class="card env"/g)).toHaveLength(2);
    expect(html.match(/<svg [^>]*class="score-chart"/g)).toHaveLength(2);
    const production = /<section class="card env" id="env-production">([\s\S]*?)<\/section>/.exec(html)![1];
    expect(production).toMatch(/<h2>production <span class="badge"[^>]*>insufficient data<\/span><\/h2>/);
    // Two scored runs make a line and two points; the run without a score is a mark on the axis.
    expect(production.match(/<circle /g)).toHaveLength(2);
    expect(production.match(/<polyline /g)).toHaveLength(1);
    expect(production.match(/<rect /g)).toHaveLength(1);
    const staging = /<section class="card env" id="env-staging">([\s\S]*?)<\/section>/.exec(html)![1];
    expect(staging).toMatch(/critical/);
    expect(html.indexOf('id="env-production"')).toBeLessThan(html.indexOf('id="env-staging"'));
    expect(html).not.toMatch(/<script[^>]*src=|<link |(href|src)="https?:/);
  });

  it('links every report relatively, HTML and JSON', () => {
    const html = renderIndexHtml(index);
    for (const r of index.runs) {
      expect(html).toContain(`<a href="${r.paths.html}">${r.run_id}</a>`);
      expect(html).toContain(`<a href="${r.paths.json}">json</a>`);
    }
    expect(html.match(/<tbody>[\s\S]*<\/tbody>/)![0].match(/<tr>/g)).toHaveLength(4);
  });

  it('escapes everything it shows and links only report paths', () => {
    const hostile = entry('production', 9, {
      run_id: '<img src=x onerror=alert(1)>',
      model: { name: 'spam"<b>', version: "1'><script>alert(2)</script>" },
      paths: { json: 'javascript:alert(3)', html: 'env=production/date=2026-11-26/a"onmouseover="x.html' },
    });
    const html = renderIndexHtml(indexOf(hostile));
    expect(html).not.toContain('<img');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toContain('<b>');
    expect(html).not.toContain('javascript:');
    expect(html).not.toContain('"onmouseover');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('href="env=production/date=2026-11-26/a%22onmouseover=%22x.html"');
  });

  it('says so when no run has finished yet', () => {
    const html = renderIndexHtml({ schema_version: 1, kind: 'drift_index', updated_at: null, runs: [] });
    expect(html).toContain('No drift run has finished yet.');
    expect(html).not.toContain('<svg');
  });
});
