// What the kubelet does for a predictor pod, for `npm start`'s local V2 model servers: a server that dies is started
// again, on the same port (the gateway's KSERVE_*_URL and the local controller name it), with a backoff that doubles
// while it keeps dying soon after starting (CrashLoopBackOff). A restart serves what the environment served: the
// start-up model directory until the local KServe controller loads another version, that version afterwards, as
// KServe's storage initializer downloads the InferenceService's current storageUri into a restarted pod.
// Meanwhile the gateway answers from its embedded model with `degraded: true` (shared/serving/predict).
import { errorMessage } from '../../shared/platform/errors';
import { HostLogger } from './logging';
import { ModelServerExit, ModelServerProcess, startModelServerProcess } from './modelServer';

const BACKOFF = {
  /** Delay before the first restart. */
  initialMs: 500,
  /** Ceiling of the doubling delay. */
  maxMs: 30_000,
  /** A server that ran this long before it died starts the backoff over. */
  resetAfterMs: 60_000,
};

export interface SupervisedModelServer {
  readonly url: string;
  readonly port: number;
  /** The version served now (while a restart is pending, the one it brings back). */
  readonly version: string;
  /** The pid of the current process; undefined while a restart is pending. */
  readonly pid: number | undefined;
  /** The controller has loaded `modelDir` (a Triton repository's model) into the server: what a restart loads. */
  serving(modelDir: string, version: string): void;
  /** Stop supervising, then the server. */
  stop(): Promise<void>;
}

function describeExit(exit: ModelServerExit): string {
  return exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
}

export async function superviseModelServer(options: {
  port: number;
  modelDir: string;
  environment: string;
  logger: HostLogger;
}): Promise<SupervisedModelServer> {
  const { environment, logger } = options;
  const label = `KServe ${environment}`;
  let current: ModelServerProcess | undefined = await startModelServerProcess(options);
  const { port, url } = current;
  let source = { modelDir: options.modelDir, triton: false, version: current.version };
  let startedAt = Date.now();
  let failures = 0;
  let restarts = 0;
  let stopping = false;
  let timer: NodeJS.Timeout | undefined;
  let restarting: Promise<void> | undefined;

  const delay = () => Math.min(BACKOFF.maxMs, BACKOFF.initialMs * 2 ** failures);

  const schedule = (why: string) => {
    const wait = delay();
    failures++;
    logger.warn(`${label}: model server ${why}; restarting in ${(wait / 1000).toFixed(1)} s (version ${source.version})`);
    timer = setTimeout(() => {
      timer = undefined;
      restarting = restart().finally(() => (restarting = undefined));
    }, wait);
  };

  const watch = (proc: ModelServerProcess) => {
    void proc.exited.then((exit) => {
      if (stopping || current !== proc) return;
      current = undefined;
      const ranMs = Date.now() - startedAt;
      if (ranMs >= BACKOFF.resetAfterMs) failures = 0;
      schedule(`(pid ${proc.pid}) ${describeExit(exit)} after ${(ranMs / 1000).toFixed(1)} s`);
    });
  };

  const restart = async () => {
    const started = performance.now();
    let proc: ModelServerProcess;
    try {
      proc = await startModelServerProcess({ port, modelDir: source.modelDir, triton: source.triton, environment });
    } catch (err) {
      if (!stopping) schedule(`did not start again (${errorMessage(err)})`);
      return;
    }
    if (stopping) return proc.stop();
    current = proc;
    source.version = proc.version;
    startedAt = Date.now();
    restarts++;
    logger.info(
      `${label}: model server started again on ${url} (pid ${proc.pid}), model version ${proc.version}, ` +
        `in ${((performance.now() - started) / 1000).toFixed(1)} s (restart ${restarts})`,
    );
    watch(proc);
  };

  watch(current);
  return {
    url,
    port,
    get version() {
      return source.version;
    },
    get pid() {
      return current?.pid;
    },
    serving(modelDir, version) {
      source = { modelDir, triton: true, version };
    },
    async stop() {
      stopping = true;
      clearTimeout(timer);
      await restarting;
      await current?.stop();
    },
  };
}
