// The app's scratch space on local disk: one root, `{os.tmpdir()}/spam-detection-functions/`, with one folder per
// process (`{pid}-{process start}`) that holds every temporary folder the process makes (a drift run's log files,
// a compaction's work folder, DuckDB's spill files). Work folders are removed in `finally`; what a crash, a kill or
// a forced exit leaves behind is removed by the next start (`sweepTempRoot`, from the app's start hook and the local
// host's start): a folder whose process no longer runs is garbage, whatever it holds.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const TEMP_ROOT_NAME = 'spam-detection-functions';

/** `{os.tmpdir()}/spam-detection-functions`: the only place the app writes temporary files. */
export function tempRoot(): string {
  return path.join(os.tmpdir(), TEMP_ROOT_NAME);
}

// The process start time tells this process's folder from one a previous process with the same pid left (a restarted
// container reuses pids). timeOrigin is the process's, the same in every module instance of the process.
const OWN_NAME = `${process.pid}-${Math.floor(performance.timeOrigin)}`;
const NAME_PATTERN = /^(\d+)-(\d+)$/;

/** This process's folder under the root, created on first use. */
export function processTempDir(root = tempRoot()): string {
  const dir = path.join(root, OWN_NAME);
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** A new, empty folder under this process's folder (`{prefix}XXXXXX`); the caller removes it with `removeTempDir`. */
export function makeTempDir(prefix: string, root = tempRoot()): string {
  return fs.mkdtempSync(path.join(processTempDir(root), prefix));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** Whether a process with that pid runs now (under any user). */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs under another user; only ESRCH says it is gone.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Whether an entry of the root belongs to a process that still runs (and may be using it). */
function inUse(name: string): boolean {
  if (name === OWN_NAME) return true;
  const m = NAME_PATTERN.exec(name);
  if (!m) return false;
  const pid = Number(m[1]);
  // Our pid with another start time: a previous process that had our pid, gone for sure.
  return pid !== process.pid && isProcessRunning(pid);
}

export interface SweepResult {
  /** Entries removed: folders of processes that no longer run, anything else found in the root. */
  removed: string[];
  /** Bytes they held. */
  bytes: number;
}

function sizeOf(p: string): number {
  let total = 0;
  const stat = fs.lstatSync(p, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.size;
  for (const e of fs.readdirSync(p)) total += sizeOf(path.join(p, e));
  return total;
}

/**
 * Remove what processes that no longer run left under the root. Safe while other processes of the app run on the
 * same machine (the local host, the CLI, test workers): their folders are left alone. Never throws: a folder that
 * cannot be removed now is tried again at the next start.
 */
export function sweepTempRoot(root = tempRoot()): SweepResult {
  const result: SweepResult = { removed: [], bytes: 0 };
  let names: string[];
  try {
    names = fs.readdirSync(root);
  } catch {
    return result;
  }
  for (const name of names) {
    if (inUse(name)) continue;
    const p = path.join(root, name);
    try {
      const bytes = sizeOf(p);
      fs.rmSync(p, { recursive: true, force: true });
      result.removed.push(name);
      result.bytes += bytes;
    } catch {
      // Left for the next start.
    }
  }
  return result;
}
