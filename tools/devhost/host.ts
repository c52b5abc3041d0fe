// The local Functions host: loads the compiled function files named by package.json `main` (the same glob the
// Azure host loads), records what they register through `@azure/functions-core`, and serves them: HTTP routes,
// timers and blob triggers. `tools/cli/start.ts` wraps it with Azurite and the local model server.
import { BlobServiceClient } from '@azure/storage-blob';
import fs from 'node:fs';
import path from 'node:path';
import { startBlobWatcher, BlobWatcher } from './blobWatcher';
import { bindingText, FunctionRegistry, installFunctionsCore, RegisteredFunction, resolveAppSettings } from './functionsCore';
import { startHttpServer, LocalHttpServer } from './httpServer';
import { HostLogger } from './logging';
import { startTimers, TimerScheduler } from './timers';

export interface LocalHostOptions {
  /** Directory holding package.json; its `main` glob names the function files. */
  projectDir: string;
  port: number;
  blobService: BlobServiceClient;
  blobPollIntervalMs: number;
  /** Value of an app setting named in a binding expression (`%DRIFT_SCHEDULE%`). */
  appSetting(name: string): string | undefined;
  logger: HostLogger;
}

export interface LocalHost {
  readonly url: string;
  readonly functions: readonly RegisteredFunction[];
  readonly blobWatcher: BlobWatcher;
  readonly timers: TimerScheduler;
  /** Stop triggers, let invocations in flight finish, run the appTerminate hooks (flush buffers). */
  stop(): Promise<void>;
}

let registry: FunctionRegistry | undefined;

/** The function files a package.json `main` names (a path or a glob, relative to the project). */
export function functionEntryPoints(projectDir: string): string[] {
  const pkg = JSON.parse(fs.readFileSync(path.join(projectDir, 'package.json'), 'utf8')) as { main?: string };
  if (!pkg.main) throw new Error('package.json has no "main": the Functions host would find no functions');
  const files = fs.globSync(pkg.main, { cwd: projectDir }).map((f) => path.resolve(projectDir, f));
  if (!files.length) throw new Error(`package.json "main" (${pkg.main}) matches no file: run "npm run build" first`);
  return files.sort();
}

export function loadFunctions(projectDir: string): FunctionRegistry {
  if (registry) return registry;
  registry = new FunctionRegistry();
  installFunctionsCore(registry);
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- files named at run time by package.json `main`, loaded in order like the Functions host does
  for (const file of functionEntryPoints(projectDir)) require(file);
  return registry;
}

function describeTrigger(fn: RegisteredFunction, url: string, schedules: Record<string, string>): string {
  const t = fn.trigger;
  switch (t.type) {
    case 'httpTrigger': {
      const methods = Array.isArray(t.methods) ? (t.methods as string[]).join(',') : 'ANY';
      // The level Azure enforces; this host, like Core Tools, checks no key (httpServer.ts).
      return `${fn.name}: [${methods}] ${url}/${bindingText(t.route, fn.name)} (${bindingText(t.authLevel, 'anonymous')})`;
    }
    case 'timerTrigger':
      return `${fn.name}: timer '${schedules[fn.name]}' (UTC)`;
    case 'blobTrigger':
      return `${fn.name}: blob trigger on ${String(t.path)} (watched every poll interval; ${bindingText(t.source, 'LogsAndContainerScan')} in Azure)`;
    case 'orchestrationTrigger':
    case 'activityTrigger':
      // WORKFLOW_BACKEND=in-process: the starter functions run these through shared/platform/workflow/inProcessRunner.ts.
      return `${fn.name}: ${t.type} (run in-process by its starter function)`;
    default:
      return `${fn.name}: ${t.type} (not hosted locally: needs the Azure Functions host)`;
  }
}

export async function startLocalHost(options: LocalHostOptions): Promise<LocalHost> {
  const { logger } = options;
  const reg = loadFunctions(options.projectDir);
  const resolveSetting = (expr: string) => resolveAppSettings(expr, (name) => options.appSetting(name));

  await reg.runHooks('appStart');
  const http: LocalHttpServer = await startHttpServer(reg.byTrigger('httpTrigger'), options.port, logger);
  const timers = startTimers(reg.byTrigger('timerTrigger'), resolveSetting, logger);
  const blobWatcher = startBlobWatcher(
    reg.byTrigger('blobTrigger'),
    options.blobService,
    options.blobPollIntervalMs,
    resolveSetting,
    logger,
  );

  logger.info(`Functions (${reg.functions.length}):`);
  for (const fn of reg.functions) logger.info(`  ${describeTrigger(fn, http.url, timers.schedules)}`);

  return {
    url: http.url,
    functions: reg.functions,
    blobWatcher,
    timers,
    async stop() {
      await Promise.all([http.close(), timers.stop(), blobWatcher.stop()]);
      await reg.runHooks('appTerminate');
    },
  };
}
