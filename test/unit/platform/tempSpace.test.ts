// The app's temp root: work folders live under this process's folder, and a sweep removes what processes that no
// longer run left behind, never what a running process may still be using.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  isProcessRunning,
  makeTempDir,
  processTempDir,
  removeTempDir,
  sweepTempRoot,
  tempRoot,
  TEMP_ROOT_NAME,
} from '../../../shared/platform/tempSpace';

// A root of the test's own: the machine's real one holds the folders of other processes of the app.
let root: string;

beforeEach(() => {
  root = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'temp-space-test-')), TEMP_ROOT_NAME);
});

afterEach(() => {
  fs.rmSync(path.dirname(root), { recursive: true, force: true });
});

/** A pid no process has now. */
function deadPid(): number {
  for (let pid = 4_194_303; pid > 1000; pid--) if (!isProcessRunning(pid)) return pid;
  throw new Error('no free pid found');
}

function plant(name: string, bytes = 1000): string {
  const dir = path.join(root, name);
  fs.mkdirSync(path.join(dir, 'logwindow-abc123'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'logwindow-abc123', 'p0.parquet'), Buffer.alloc(bytes));
  return dir;
}

describe('temp space', () => {
  it('makes work folders under one folder of this process, in one root named for the app', () => {
    expect(tempRoot()).toBe(path.join(os.tmpdir(), TEMP_ROOT_NAME));
    const dir = makeTempDir('logwindow-', root);
    expect(path.dirname(dir)).toBe(processTempDir(root));
    expect(path.dirname(processTempDir(root))).toBe(root);
    expect(path.basename(processTempDir(root))).toMatch(new RegExp(`^${process.pid}-\\d+$`));
    expect(fs.statSync(dir).isDirectory()).toBe(true);
    removeTempDir(dir);
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('sweeps the folders of processes that no longer run, and leaves those of running processes alone', () => {
    const own = makeTempDir('compact-', root);
    const dead = plant(`${deadPid()}-1700000000000`, 4096);
    // Our pid with another start time: a previous process that had our pid (a restarted container).
    const reused = plant(`${process.pid}-1600000000000`, 2048);
    const other = plant(`${process.ppid}-1700000000000`); // the test runner: it runs
    const stray = path.join(root, 'logwindow-from-an-old-version');
    fs.mkdirSync(stray);

    const result = sweepTempRoot(root);

    expect(result.removed.sort()).toEqual([path.basename(dead), path.basename(reused), path.basename(stray)].sort());
    expect(result.bytes).toBe(4096 + 2048);
    for (const gone of [dead, reused, stray]) expect(fs.existsSync(gone)).toBe(false);
    expect(fs.existsSync(own)).toBe(true);
    expect(fs.existsSync(other)).toBe(true);
    // Nothing left to do the second time.
    expect(sweepTempRoot(root).removed).toEqual([]);
  });

  it('is a no-op when the root does not exist yet', () => {
    expect(sweepTempRoot(root)).toEqual({ removed: [], bytes: 0 });
  });
});
