// The in-process workflow backend on small made-up orchestrations: typed activities found by their registered
// names, Task.all a bounded number at a time with results in task order, JSON at every boundary, failures, and
// Task.any over an external event and a timer. (The real orchestrators run on it in the drift and promotion tests.)
import type { OrchestrationContext, Task } from 'durable-functions';
import { defineActivity, whenAll } from '../../../../shared/platform/workflow/activity';
import { InProcessOrchestration } from '../../../../shared/platform/workflow/inProcessRunner';

let running = 0;
let mostAtOnce = 0;
const seen: unknown[] = [];

const square = defineActivity<{ n: number; at: Date }, { n: number; square: number; note?: string }>('testSquare', async (input) => {
  seen.push(input);
  running++;
  mostAtOnce = Math.max(mostAtOnce, running);
  // Later tasks finish first: results must still come back in task order.
  await new Promise((r) => setTimeout(r, Math.max(1, 30 - input.n * 5)));
  running--;
  if (input.n === 99) throw new RangeError('99 is too big');
  return { n: input.n, square: input.n * input.n, note: undefined };
});
const total = defineActivity<number[], number>('testTotal', (values) => Promise.resolve(values.reduce((a, b) => a + b, 0)));

function* squares(context: OrchestrationContext): Generator<Task, number, unknown> {
  const ns = context.df.getInput<number[]>();
  const results = yield* whenAll(
    context,
    ns.map((n) => square.task(context, { n, at: new Date(0) })),
  );
  context.df.setCustomStatus({ squared: results.map((r) => r.n) });
  return yield* total.call(
    context,
    results.map((r) => r.square),
  );
}

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

beforeEach(() => {
  running = 0;
  mostAtOnce = 0;
  seen.length = 0;
});

test('Task.all runs `concurrency` activities at a time, in task order, through JSON, with a progress call per activity', async () => {
  const progress: string[] = [];
  const run = new InProcessOrchestration('testSquares', squares, [1, 2, 3, 4, 5], 'run-1', {
    logger: quiet,
    concurrency: 2,
    onProgress: (name, result, done, count) => {
      if (square.isResult(name, result)) progress.push(`${done}/${count}:${result.square}:${'note' in result}`);
    },
  });
  expect(await run.done).toBe(1 + 4 + 9 + 16 + 25);
  expect(mostAtOnce).toBe(2);
  expect(progress).toHaveLength(5);
  expect(progress.map((p) => p.split(':')[0])).toEqual(['1/5', '2/5', '3/5', '4/5', '5/5']);
  expect(progress.every((p) => p.endsWith(':false'))).toBe(true); // an undefined property does not survive JSON
  expect(seen[0]).toEqual({ n: 1, at: '1970-01-01T00:00:00.000Z' }); // a Date arrives as its JSON string
  expect(run.getStatus()).toMatchObject({ runtimeStatus: 'Completed', customStatus: { squared: [1, 2, 3, 4, 5] }, output: 55 });
});

test('a failing activity fails Task.all and the orchestration with its message, and no further task starts', async () => {
  const run = new InProcessOrchestration('testSquares', squares, [99, 1, 2, 3], 'run-2', { logger: quiet, concurrency: 1 });
  await expect(run.done).rejects.toThrow('99 is too big');
  expect(seen).toHaveLength(1);
  expect(run.getStatus()).toMatchObject({ runtimeStatus: 'Failed', output: '99 is too big' });
});

test('an activity name nobody defined fails like the Durable host, and a name cannot be defined twice', async () => {
  function* unknown(context: OrchestrationContext): Generator<Task, unknown, unknown> {
    return yield context.df.callActivity('testNoSuchActivity', 1);
  }
  await expect(new InProcessOrchestration('testUnknown', unknown, null, 'run-3', { logger: quiet }).done).rejects.toThrow(
    "The activity function 'testNoSuchActivity' does not exist",
  );
  expect(() => defineActivity('testTotal', () => Promise.resolve(0))).toThrow(/already defined/);
});

test('Task.any over an external event and a timer: an event raised before the wait is kept; the timer wins otherwise', async () => {
  function* approval(context: OrchestrationContext): Generator<Task, string, unknown> {
    const event = context.df.waitForExternalEvent('decision');
    const timer = context.df.createTimer(new Date(context.df.currentUtcDateTime.getTime() + 50));
    const winner = yield context.df.Task.any([event, timer]);
    if (winner !== event) return 'timed out';
    timer.cancel();
    return `decided: ${JSON.stringify(event.result)}`;
  }
  const early = new InProcessOrchestration('testApproval', approval, null, 'run-4', { logger: quiet });
  early.raiseEvent('decision', { ok: true });
  expect(await early.done).toBe('decided: {"ok":true}');
  const late = new InProcessOrchestration('testApproval', approval, null, 'run-5', { logger: quiet });
  expect(await late.done).toBe('timed out');
});
