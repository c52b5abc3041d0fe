// The local stack's child processes (Azurite, the V2 model servers) belong to the process that starts them.
//
// - Own process group: a terminal's Ctrl-C signals the whole foreground group. Were the children in it, they would
//   die with the host at the moment the host starts flushing the inference log to Azurite and still waits for
//   predictions in flight on the model servers. In their own group only the host gets the signal, and it stops them
//   itself once its buffers are written.
// - An IPC channel the child watches: when the parent dies, even by SIGKILL, the channel closes and the child stops,
//   so no Azurite or model server is left holding its port. Linux has no portable "die with my parent" for Node
//   (prctl's PR_SET_PDEATHSIG needs native code); the channel's end is the one event every platform delivers.
import { ChildProcess, spawn, StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../../shared/platform/projectRoot';

/**
 * A compiled script of the project (`dist/...`), also when the caller runs from the TypeScript sources (jest): the
 * child runs plain Node.
 */
export function compiledScript(...parts: string[]): string {
  const file = path.join(projectRoot(), 'dist', ...parts);
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: run "npm run build" first`);
  return file;
}

/** `node script ...args` in a process group of its own, with an IPC channel that `stopWithParent` watches. */
export function spawnOwnedChild(script: string, args: readonly string[], stdio: { stdout: 'pipe' | 'ignore' }): ChildProcess {
  const child = spawn(process.execPath, [script, ...args], {
    stdio: ['ignore', stdio.stdout, 'pipe', 'ipc'] satisfies StdioOptions,
    detached: true,
    windowsHide: true,
  });
  // The channel is there for the child to watch; it must not keep this process running.
  child.channel?.unref();
  return child;
}

/** True while the child runs (it has neither exited nor been killed by a signal). */
export function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

/**
 * Stop a child gracefully: `graceful` asks (a signal, or closing the channel), SIGKILL follows after `killAfterMs`.
 * Resolves once it has exited.
 */
export function stopChild(child: ChildProcess, graceful: (child: ChildProcess) => void, killAfterMs = 5000): Promise<void> {
  return new Promise<void>((resolve) => {
    if (!isRunning(child)) return resolve();
    child.once('exit', () => resolve());
    graceful(child);
    setTimeout(() => {
      if (isRunning(child)) child.kill('SIGKILL');
    }, killAfterMs).unref();
  });
}

/**
 * In the child: run `stop` when the parent's channel closes (the parent stopped us, exited or was killed), at once
 * when it has closed already. Call it before anything slow: the event is not repeated for a late listener.
 */
export function stopWithParent(stop: () => void): void {
  if (!process.send) return; // not started with a channel (run by hand)
  if (!process.connected) return stop();
  process.once('disconnect', stop);
}
