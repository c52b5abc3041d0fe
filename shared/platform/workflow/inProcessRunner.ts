// The in-process backend of the workflows (WORKFLOW_BACKEND=in-process: the local host, the CLI, tests): it drives
// an orchestrator generator with the subset of the DurableOrchestrationContext API the project's orchestrators use
// (getInput, callActivity, Task.all, Task.any, createTimer, waitForExternalEvent, currentUtcDateTime, isReplaying,
// setCustomStatus) and calls the activities' handlers, found by the names the orchestrator calls (activity.ts).
// Inputs and results go through JSON like the Durable backend's, so an orchestrator that passes here passes
// nothing it could not there. No history and no replay: state lives in memory and ends with the process (Durable
// keeps it in the storage account), which is why Azure runs the durable backend.
import { InvocationContext, LogLevel } from '@azure/functions';
import type { OrchestrationContext, Task } from 'durable-functions';
import { activityNamed } from './activity';
import { errorMessage } from '../errors';

export type RuntimeStatus = 'Running' | 'Completed' | 'Failed';

/** Where the orchestrator's and the activities' context.log / warn / error lines go. */
export interface WorkflowLogger {
  log(...args: unknown[]): void;
  warn(...args: unknown[]): void;
  error(...args: unknown[]): void;
}

export interface InProcessOptions {
  logger?: WorkflowLogger;
  /**
   * Activities of one Task.all that run at a time (default 2): enough to overlap one activity's downloads with
   * another's computing, without one process holding every partition of a long drift window at once.
   */
  concurrency?: number;
  /** After each activity of a Task.all completes: its name, its result, and how many of the group are done. */
  onProgress?: (activityName: string, result: unknown, done: number, total: number) => void;
}

interface LocalTask {
  kind: 'activity' | 'timer' | 'event' | 'all' | 'any';
  /** The activity's name (kind 'activity'). */
  name?: string;
  isCompleted: boolean;
  isFaulted: boolean;
  result?: unknown;
  /** Settles when the task completes; the runner awaits it when the generator yields this task. */
  run(): Promise<unknown>;
  cancel?: () => void;
  isCanceled?: boolean;
}

export interface InProcessStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

const json = <T>(value: T): T => (value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T));

/** An InvocationContext whose log lines go to `logger`, as the host's would go to the function's log. */
function loggingContext(functionName: string, invocationId: string, logger: WorkflowLogger): InvocationContext {
  const logHandler = (level: LogLevel, ...args: unknown[]) => {
    if (level === 'warning') logger.warn(...args);
    else if (level === 'error' || level === 'critical') logger.error(...args);
    else logger.log(...args);
  };
  return new InvocationContext({ functionName, invocationId, logHandler });
}

export class InProcessOrchestration<O = unknown> {
  readonly done: Promise<O>;
  private readonly status: InProcessStatus;
  private readonly waiting = new Map<string, Array<(data: unknown) => void>>();
  private readonly pendingEvents = new Map<string, unknown[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly logger: WorkflowLogger;
  private readonly concurrency: number;
  private clock: { currentUtcDateTime: Date } = { currentUtcDateTime: new Date() };
  private activityCalls = 0;

  constructor(
    readonly name: string,
    orchestrator: (context: OrchestrationContext) => Generator<Task, O, unknown>,
    input: unknown,
    readonly instanceId: string,
    private readonly options: InProcessOptions = {},
  ) {
    this.logger = options.logger ?? console;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    const now = new Date().toISOString();
    this.status = {
      instanceId,
      name,
      runtimeStatus: 'Running',
      input: json(input),
      customStatus: null,
      output: null,
      createdTime: now,
      lastUpdatedTime: now,
    };
    this.done = this.drive(orchestrator(this.context(json(input))));
  }

  getStatus(): InProcessStatus {
    return json(this.status);
  }

  /** Deliver an external event (as DurableClient.raiseEvent does); kept until the orchestrator waits for it. */
  raiseEvent(eventName: string, data: unknown): void {
    const waiter = this.waiting.get(eventName)?.shift();
    if (waiter) waiter(json(data));
    else this.pendingEvents.set(eventName, [...(this.pendingEvents.get(eventName) ?? []), json(data)]);
  }

  private context(input: unknown): OrchestrationContext {
    const complete = (task: LocalTask, value: unknown) => {
      task.isCompleted = true;
      task.result = value;
      return value;
    };
    const df = {
      instanceId: this.instanceId,
      isReplaying: false,
      currentUtcDateTime: new Date(),
      getInput: () => input,
      setCustomStatus: (status: unknown) => {
        this.status.customStatus = json(status);
        this.status.lastUpdatedTime = new Date().toISOString();
      },
      callActivity: (name: string, activityInput?: unknown): LocalTask => {
        const task: LocalTask = {
          kind: 'activity',
          name,
          isCompleted: false,
          isFaulted: false,
          run: async () => {
            const activity = activityNamed(name);
            if (!activity) throw new Error(`The activity function '${name}' does not exist`);
            const context = loggingContext(name, `${this.instanceId}:${++this.activityCalls}`, this.logger);
            try {
              return complete(task, json(await activity.handler(json(activityInput), context)));
            } catch (err) {
              task.isFaulted = true;
              // The Durable runtime hands the orchestrator an Error carrying the activity's message and nothing else.
              // eslint-disable-next-line preserve-caught-error -- the original error does not cross that boundary
              throw new Error(errorMessage(err));
            }
          },
        };
        return task;
      },
      createTimer: (fireAt: Date): LocalTask => {
        let timer: NodeJS.Timeout | undefined;
        let resolveTimer: (() => void) | undefined;
        const task: LocalTask = {
          kind: 'timer',
          isCompleted: false,
          isFaulted: false,
          isCanceled: false,
          run: () =>
            new Promise((resolve) => {
              resolveTimer = () => resolve(complete(task, undefined));
              timer = setTimeout(
                () => {
                  this.timers.delete(timer!);
                  resolveTimer?.();
                },
                Math.max(0, fireAt.getTime() - Date.now()),
              );
              this.timers.add(timer);
            }),
          cancel: () => {
            task.isCanceled = true;
            if (timer) {
              clearTimeout(timer);
              this.timers.delete(timer);
            }
          },
        };
        return task;
      },
      waitForExternalEvent: (eventName: string): LocalTask => {
        const task: LocalTask = {
          kind: 'event',
          isCompleted: false,
          isFaulted: false,
          run: () =>
            new Promise((resolve) => {
              const queued = this.pendingEvents.get(eventName);
              if (queued?.length) return resolve(complete(task, queued.shift()));
              this.waiting.set(eventName, [...(this.waiting.get(eventName) ?? []), (data) => resolve(complete(task, data))]);
            }),
        };
        return task;
      },
      Task: {
        /**
         * Like Durable's Task.all: the results in the order of the tasks; fails with the first failure. Here the
         * tasks run `concurrency` at a time (Durable spreads them over its workers instead).
         */
        all: (tasks: LocalTask[]): LocalTask => {
          const task: LocalTask = {
            kind: 'all',
            isCompleted: false,
            isFaulted: false,
            run: async () => {
              const results: unknown[] = new Array(tasks.length);
              let next = 0;
              let done = 0;
              let failure: { error: unknown } | undefined;
              const worker = async () => {
                while (!failure && next < tasks.length) {
                  const i = next++;
                  try {
                    results[i] = await tasks[i].run();
                  } catch (error) {
                    failure ??= { error };
                    return;
                  }
                  done++;
                  try {
                    this.options.onProgress?.(tasks[i].name ?? tasks[i].kind, results[i], done, tasks.length);
                  } catch {
                    // A progress line that fails must not fail the run, nor leave the other workers going alone.
                  }
                }
              };
              await Promise.all(Array.from({ length: Math.min(this.concurrency, tasks.length) }, worker));
              if (failure) {
                task.isFaulted = true;
                throw failure.error;
              }
              return complete(task, results);
            },
          };
          return task;
        },
        /** Like Durable's Task.any: resolves with the first task to complete, which the orchestrator compares by identity. */
        any: (tasks: LocalTask[]): LocalTask => {
          const task: LocalTask = {
            kind: 'any',
            isCompleted: false,
            isFaulted: false,
            run: () => Promise.race(tasks.map((t) => t.run().then(() => t))).then((winner) => complete(task, winner)),
          };
          return task;
        },
      },
    };
    this.clock = df;
    // The parts of OrchestrationContext the orchestrators use: the df API above and an InvocationContext's logging.
    return Object.assign(loggingContext(this.name, this.instanceId, this.logger), { df }) as unknown as OrchestrationContext;
  }

  private async drive(generator: Generator<Task, O, unknown>): Promise<O> {
    // Like the OrchestratorStarted timestamp of each Durable episode: the time when the orchestrator resumes.
    const resume = () => (this.clock.currentUtcDateTime = new Date());
    let step = generator.next();
    try {
      while (!step.done) {
        const task = step.value as LocalTask;
        let value: unknown;
        try {
          value = await task.run();
        } catch (err) {
          resume();
          step = generator.throw(err);
          continue;
        }
        resume();
        step = generator.next(value);
      }
      this.status.runtimeStatus = 'Completed';
      this.status.output = json(step.value);
      return step.value;
    } catch (err) {
      this.status.runtimeStatus = 'Failed';
      this.status.output = errorMessage(err);
      throw err;
    } finally {
      this.status.lastUpdatedTime = new Date().toISOString();
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
    }
  }
}
