// `npm run replay -- --feedback` on its first two weeks of mail, end to end: its own Azurite and local stack, the
// static pass, the first week's feedback posted with labelled_at a day after each message, one real retraining at
// the second week's cut-off (through POST /api/models/retrain and its status route), the weekly drift checks, and
// the JSON other tools read. The floors are measured on the whole test period (docs/prequential-replay.md), not here.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { PrequentialResult } from '../../../tools/cli/prequentialReplay';
import { REPO_ROOT, distPath } from '../../helpers/paths';

const run = promisify(execFile);

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'prequential-replay-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test('two weeks of mail: a static pass, the loop with one retraining at the week’s cut-off, and the JSON result', async () => {
  const json = path.join(tmp, 'result.json');
  const { stdout } = await run(process.execPath, [distPath('tools', 'cli', 'replay.js'), '--feedback', '--weeks', '2', '--json', json], {
    cwd: REPO_ROOT,
    env: process.env,
    maxBuffer: 16 * 1024 * 1024,
  });
  expect(stdout).toMatch(/^week of +rows +served version/m);
  expect(stdout).toMatch(/^static \(never retrained\) +rows \d+/m);
  const result = JSON.parse(fs.readFileSync(json, 'utf8')) as PrequentialResult;
  expect(result).toMatchObject({ feedback_share: 1, feedback_delay_hours: 24, retrain_every_days: 7 });
  expect(result.weeks.map((w) => w.start)).toEqual(['2002-09-11T00:00:00.000Z', '2002-09-18T00:00:00.000Z']);
  const [first, second] = result.weeks;
  // The first week is served by the committed model, as in the static pass: nothing was retrained before it.
  expect(first).toMatchObject({ served_version: '1.2.0', auc: first.static.auc, ham_fpr: first.static.ham_fpr });
  expect(first.retraining).toBeUndefined();
  for (const w of result.weeks) {
    expect(w.rows).toBeGreaterThan(100);
    expect(['healthy', 'warning', 'critical', 'insufficient_data']).toContain(w.drift_status);
  }
  // The retraining at the second week's start read the first week's feedback labelled before the cut-off.
  expect(second.retraining).toMatchObject({ cutoff: '2002-09-18T00:00:00.000Z', id: expect.stringMatching(/^retrain-/) });
  expect(second.retraining!.feedback).toBeGreaterThan(100);
  expect(second.retraining!.feedback).toBeLessThanOrEqual(first.rows);
  expect(['rejected', 'promotion promoted', 'promotion rolled_back', 'failed']).toContain(second.retraining!.outcome);
  expect(result.loop.rows).toBe(first.rows + second.rows);
  expect(result.static.rows).toBe(result.loop.rows);
}, 400_000);
