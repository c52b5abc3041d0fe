// What the running `npm start` stack tells other local processes: the kubeconfig of its Kubernetes API and
// stack.json (its pid and gateway URL) in LOCAL_STACK_DIR. `npm start` writes them and points its own Functions
// host at them; `npm run promote` reads them, so that a promotion from the command line patches the same
// InferenceServices the local gateway follows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Config, resetConfig } from '../../shared/platform/config';
import { ServiceUnavailableError } from '../../shared/platform/errors';
import { projectRoot } from '../../shared/platform/projectRoot';

export interface StackState {
  pid: number;
  /** The local host's base URL (…/api). */
  gatewayUrl: string;
  kubeconfig: string;
  kubeApiUrl: string;
}

export function stackDir(config: Pick<Config, 'localStackDir'>): string {
  return path.resolve(projectRoot(), config.localStackDir);
}

const stateFile = (dir: string) => path.join(dir, 'stack.json');
export const kubeconfigFile = (dir: string) => path.join(dir, 'kubeconfig');

export function writeKubeconfig(dir: string, yaml: string): string {
  fs.mkdirSync(dir, { recursive: true });
  const file = kubeconfigFile(dir);
  fs.writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}

export function writeStackState(dir: string, state: StackState): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(stateFile(dir), JSON.stringify(state, null, 2) + '\n');
}

/** Synchronous: also called from the `exit` event, where nothing asynchronous runs. */
export function removeStackState(dir: string): void {
  for (const file of [stateFile(dir), kubeconfigFile(dir)]) fs.rmSync(file, { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The stack of `dir` when its process still runs (a killed stack leaves its files behind). */
export function runningStack(dir: string): StackState | undefined {
  let state: StackState;
  try {
    state = JSON.parse(fs.readFileSync(stateFile(dir), 'utf8')) as StackState;
  } catch {
    return undefined;
  }
  return Number.isInteger(state.pid) && alive(state.pid) && fs.existsSync(state.kubeconfig) ? state : undefined;
}

/** Point this process's Kubernetes settings at a kubeconfig file (KUBE_CONTEXT would name a context it lacks). */
export function useKubeconfig(file: string, env: NodeJS.ProcessEnv = process.env): void {
  env.KUBE_CONNECTION = 'kubeconfig';
  env.KUBECONFIG = file;
  delete env.KUBE_CONTEXT;
  resetConfig();
}

/**
 * A command that talks to Kubernetes from this machine: Kubernetes settings in the environment win; else the running
 * local stack (its API, and its gateway unless PROMOTION_GATEWAY_URL is set); else kubectl's own file. Neither a
 * stack nor a kubeconfig: an error that says to start the stack.
 */
export function connectToLocalStack(config: Config, env: NodeJS.ProcessEnv = process.env): StackState | undefined {
  if (env.KUBE_CONNECTION || env.KUBECONFIG || env.KUBERNETES_SERVICE_HOST) return undefined;
  const dir = stackDir(config);
  const stack = runningStack(dir);
  if (stack) {
    env.PROMOTION_GATEWAY_URL ??= stack.gatewayUrl;
    useKubeconfig(stack.kubeconfig, env);
    return stack;
  }
  if (fs.existsSync(path.join(os.homedir(), '.kube', 'config'))) return undefined;
  throw new ServiceUnavailableError(
    `no Kubernetes API: the local stack is not running (start it with \`npm start\`; its state goes to ${dir}), and neither KUBECONFIG nor KUBE_CONNECTION names a cluster`,
  );
}
