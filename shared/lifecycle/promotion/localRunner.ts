// An in-process stand-in for the Durable Functions backend, for where none exists (the local host, the CLI,
// tests): it drives an orchestrator generator with the subset of the DurableOrchestrationContext API the project's
// orchestrators use (getInput, callActivity, createTimer, waitForExternalEvent, Task.any, currentUtcDateTime,
// isReplaying, setCustomStatus) and runs the activities as the plain functions they are. Inputs and results go
// through JSON like the real backend's, so an orchestrator that passes here passes nothing it could not there.
// No history and no replay: state lives in memory and ends with the process (Durable keeps it in Azure Storage).
import type { OrchestrationContext } from 'durable-functions';

type Activity = (input: any) => Promise<unknown>;
export type RuntimeStatus = 'Running' | 'Completed' | 'Failed';

interface LocalTask {
  kind: 'activity' | 'timer' | 'event' | 'any';
  isCompleted: boolean;
  isFaulted: boolean;
  result?: unknown;
  /** Settles when the task completes; the runner awaits it when the generator yields this task. */
  run(): Promise<unknown>;
  cancel?: () => void;
  isCanceled?: boolean;
}

export interface LocalOrchestrationStatus {
  instanceId: string;
  name: string;
  runtimeStatus: RuntimeStatus;
  input: unknown;
  customStatus: unknown;
  output: unknown;
  createdTime: string;
  lastUpdatedTime: string;
}

const json = <T>(value: T): T => (value === undefined ? value : JSON.parse(JSON.stringify(value)));

export class LocalOrchestration {
  readonly done: Promise<unknown>;
  private readonly status: LocalOrchestrationStatus;
  private readonly waiting = new Map<string, Array<(data: unknown) => void>>();
  private readonly pendingEvents = new Map<string, unknown[]>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private clock: { currentUtcDateTime: Date } = { currentUtcDateTime: new Date() };

  constructor(
    readonly name: string,
    orchestrator: (context: OrchestrationContext) => Generator<any, unknown, any>,
    private readonly activities: Record<string, Activity>,
    input: unknown,
    readonly instanceId: string,
    private readonly log: (message: string) => void = () => undefined,
  ) {
    const now = new Date().toISOString();
    this.status = { instanceId, name, runtimeStatus: 'Running', input: json(input), customStatus: null, output: null, createdTime: now, lastUpdatedTime: now };
    this.done = this.drive(orchestrator(this.context(json(input))));
  }

  getStatus(): LocalOrchestrationStatus {
    return json(this.status);
  }

  /** Deliver an external event (as DurableClient.raiseEvent does); kept until the orchestrator waits for it. */
  raiseEvent(eventName: string, data: unknown): void {
    const waiter = this.waiting.get(eventName)?.shift();
    if (waiter) waiter(json(data));
    else this.pendingEvents.set(eventName, [...(this.pendingEvents.get(eventName) ?? []), json(data)]);
  }

  private context(input: unknown): OrchestrationContext {
    const self = this;
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
        self.status.customStatus = json(status);
        self.status.lastUpdatedTime = new Date().toISOString();
      },
      callActivity(name: string, activityInput?: unknown): LocalTask {
        const activity = self.activities[name];
        const task: LocalTask = {
          kind: 'activity',
          isCompleted: false,
          isFaulted: false,
          run: async () => {
            if (!activity) throw new Error(`The activity function '${name}' does not exist`);
            try {
              return complete(task, json(await activity(json(activityInput))));
            } catch (err) {
              task.isFaulted = true;
              // The Durable runtime hands the orchestrator an Error carrying the activity's message.
              throw new Error(err instanceof Error ? err.message : String(err));
            }
          },
        };
        return task;
      },
      createTimer(fireAt: Date): LocalTask {
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
              timer = setTimeout(() => {
                self.timers.delete(timer!);
                resolveTimer?.();
              }, Math.max(0, fireAt.getTime() - Date.now()));
              self.timers.add(timer);
            }),
          cancel: () => {
            task.isCanceled = true;
            if (timer) {
              clearTimeout(timer);
              self.timers.delete(timer);
            }
          },
        };
        return task;
      },
      waitForExternalEvent(eventName: string): LocalTask {
        const task: LocalTask = {
          kind: 'event',
          isCompleted: false,
          isFaulted: false,
          run: () =>
            new Promise((resolve) => {
              const queued = self.pendingEvents.get(eventName);
              if (queued?.length) return resolve(complete(task, queued.shift()));
              self.waiting.set(eventName, [...(self.waiting.get(eventName) ?? []), (data) => resolve(complete(task, data))]);
            }),
        };
        return task;
      },
      Task: {
        /** Like Durable's Task.any: resolves with the first task to complete, which the orchestrator compares by identity. */
        any(tasks: LocalTask[]): LocalTask {
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
    return { df, log: (...args: unknown[]) => this.log(args.map(String).join(' ')) } as unknown as OrchestrationContext;
  }

  private async drive(generator: Generator<any, unknown, any>): Promise<unknown> {
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
      this.status.output = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      this.status.lastUpdatedTime = new Date().toISOString();
      for (const t of this.timers) clearTimeout(t);
      this.timers.clear();
    }
  }
}
