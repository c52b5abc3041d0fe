// Runs `node dist/tools/cli/start.js` (what `npm start` runs) as a child process on a free port and returns its URL.
// Its model servers and Kubernetes API take free ports too (never npm start's fixed ones, which a developer's stack
// may hold), and its stack state goes to a temporary folder, not the project's .local/ that `npm run promote` reads.
// The start-up's Feast seeding is off unless a test asks for it (LOCAL_FEAST_SEED): it would change the sender
// features of a test's own Feast project while the test runs.
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT, distPath } from './paths';

export interface RunningHost {
  readonly url: string;
  /** LOCAL_STACK_DIR of the host: its kubeconfig and stack.json. */
  readonly stackDir: string;
  readonly output: () => string;
  /** Send SIGINT (Ctrl-C) and resolve with the exit code. */
  stop(): Promise<number | null>;
  readonly process: ChildProcess;
}

export async function startHostProcess(options: {
  env: Record<string, string>;
  projectDir?: string;
  timeoutMs?: number;
  /** Its own process group, as a terminal's foreground job: a test signals the group (`process.kill(-pid, ...)`). */
  processGroup?: boolean;
}): Promise<RunningHost> {
  const args = [distPath('tools', 'cli', 'start.js')];
  if (options.projectDir) args.push(options.projectDir);
  const stackDir = fs.mkdtempSync(path.join(os.tmpdir(), 'local-stack-'));
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    env: {
      ...process.env,
      LOCAL_HOST_PORT: '0',
      LOCAL_KSERVE_PRODUCTION_PORT: '0',
      LOCAL_KSERVE_STAGING_PORT: '0',
      LOCAL_KUBE_API_PORT: '0',
      LOCAL_STACK_DIR: stackDir,
      LOCAL_FEAST_SEED: 'false',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.processGroup ?? false,
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`host did not start in time:\n${output}`)), options.timeoutMs ?? 30000);
    const onData = () => {
      const m = /Host listening on (\S+)/.exec(output);
      if (m) {
        clearTimeout(timer);
        resolve(m[1].replace('localhost', '127.0.0.1'));
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      fs.rmSync(stackDir, { recursive: true, force: true });
      reject(new Error(`host exited with ${code}:\n${output}`));
    });
  });
  return {
    url,
    stackDir,
    output: () => output,
    process: child,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          fs.rmSync(stackDir, { recursive: true, force: true });
          return resolve(child.exitCode);
        }
        child.removeAllListeners('exit');
        child.once('exit', (code) => {
          fs.rmSync(stackDir, { recursive: true, force: true });
          resolve(code);
        });
        child.kill('SIGINT');
      }),
  };
}

export async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
