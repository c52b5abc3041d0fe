// Typed activities for the Durable Functions orchestrators. durable-functions calls an activity by its name with an
// untyped input and hands the orchestrator back `any`; a definition states the name, the input type and the output
// type once, so an orchestrator schedules an activity and reads its result without a cast, the function file
// registers the handler under the same name, and the in-process runner (inProcessRunner.ts) finds that handler by
// the name the orchestrator called.
import type { InvocationContext } from '@azure/functions';
import type { OrchestrationContext, Task } from 'durable-functions';

declare const resultType: unique symbol;

/** A scheduled activity whose result is an O (the type exists at compile time only), for Task.all and Task.any. */
export type ActivityTask<O> = Task & { readonly [resultType]?: O };

export type ActivityHandler<I, O> = (input: I, context: InvocationContext) => Promise<O>;

export interface ActivityDefinition<I, O> {
  readonly name: string;
  /** What `df.app.activity(name, { handler })` registers and what the in-process runner calls. */
  readonly handler: ActivityHandler<I, O>;
  /** Schedule the activity without waiting (to pass to `whenAll` or Task.any). */
  task(context: OrchestrationContext, input: I): ActivityTask<O>;
  /** Schedule the activity and wait for its result: `const out = yield* activity.call(context, input)`. */
  call(context: OrchestrationContext, input: I): Generator<Task, O, unknown>;
  /** Narrows a result the in-process runner reports under an activity name to this activity's output type. */
  isResult(activityName: string, result: unknown): result is O;
}

// Inputs cross this boundary as JSON, untyped, as they do in the Durable host.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyActivity = ActivityDefinition<any, unknown>;

const definitions = new Map<string, AnyActivity>();

export function defineActivity<I, O>(name: string, handler: ActivityHandler<I, O>): ActivityDefinition<I, O> {
  // Two handlers under one name would make the in-process runner and the Durable host disagree on which one runs.
  if (definitions.has(name)) throw new Error(`an activity named '${name}' is already defined`);
  const definition: ActivityDefinition<I, O> = {
    name,
    handler,
    task: (context, input) => context.df.callActivity(name, input),
    *call(context, input) {
      // The Durable runtime resumes the generator with the activity's (JSON-decoded) result.
      return (yield context.df.callActivity(name, input)) as O;
    },
    isResult: (activityName, _result): _result is O => activityName === name,
  };
  definitions.set(name, definition);
  return definition;
}

/** The definition registered under a name, as the in-process runner looks it up. */
export function activityNamed(name: string): AnyActivity | undefined {
  return definitions.get(name);
}

/** Wait for every task; the results come in the order of the tasks: `const outs = yield* whenAll(context, tasks)`. */
export function* whenAll<O>(context: OrchestrationContext, tasks: ActivityTask<O>[]): Generator<Task, O[], unknown> {
  return (yield context.df.Task.all(tasks)) as O[];
}
