// Timer triggers on the local host: NCRONTAB schedules (six fields, seconds first, UTC as in Azure) run by croner.
import { InvocationContext, Timer } from '@azure/functions';
import { Cron } from 'croner';
import { randomUUID } from 'node:crypto';
import { CRONER_AS_NCRONTAB, ncrontabProblem } from '../../shared/platform/ncrontab';
import { RegisteredFunction } from './functionsCore';
import { HostLogger, invocationLogHandler } from './logging';

export interface TimerScheduler {
  /** Wait for running invocations and stop scheduling. */
  stop(): Promise<void>;
  readonly schedules: Record<string, string>;
}

export function startTimers(functions: RegisteredFunction[], resolveSetting: (expr: string) => string, logger: HostLogger): TimerScheduler {
  const jobs: Cron[] = [];
  const running = new Set<Promise<unknown>>();
  const schedules: Record<string, string> = {};

  for (const fn of functions) {
    const schedule = resolveSetting(String(fn.trigger.schedule));
    schedules[fn.name] = schedule;
    let last: Date | undefined;
    const invoke = async (isPastDue: boolean) => {
      const now = new Date();
      const job = jobs.find((j) => j.name === fn.name);
      // As the Functions host passes it while a tick runs: `next` names the occurrence being invoked
      // (azure-functions-dotnet-worker#954), `last` the one before.
      const occurrence = job?.currentRun() ?? now;
      const timer: Timer = {
        isPastDue,
        schedule: { adjustForDST: false },
        scheduleStatus: {
          last: (last ?? occurrence).toISOString(),
          next: occurrence.toISOString(),
          lastUpdated: now.toISOString(),
        },
      };
      last = occurrence;
      const context = new InvocationContext({
        invocationId: randomUUID(),
        functionName: fn.name,
        logHandler: invocationLogHandler(logger, fn.name),
        triggerMetadata: {},
      });
      const run = Promise.resolve()
        .then(() => fn.handler(timer, context))
        .catch((err) => logger.error(`${fn.name} failed`, err));
      running.add(run);
      await run;
      running.delete(run);
    };
    const problem = ncrontabProblem(schedule);
    if (problem) throw new Error(`${fn.name}: schedule '${schedule}' is not NCRONTAB: ${problem}`);
    // `protect` skips a tick while the previous run is still going, as the Functions host's singleton lock does.
    jobs.push(new Cron(schedule, { ...CRONER_AS_NCRONTAB, name: fn.name, protect: true }, () => invoke(false)));
    if (fn.trigger.runOnStartup === true) void invoke(false);
  }

  return {
    schedules,
    async stop() {
      for (const job of jobs) job.stop();
      await Promise.all(running);
    },
  };
}
