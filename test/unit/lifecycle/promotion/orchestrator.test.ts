// The promotion orchestrator under the real durable-functions 3.x runtime, driven step by step: each test builds
// the orchestration history the Durable extension would (ExecutionStarted, TaskScheduled/TaskCompleted,
// TimerCreated/TimerFired, EventRaised, one OrchestratorStarted per episode) and replays the generator over it
// with the package's own Orchestrator (createOrchestrator + DummyOrchestrationContext). Every episode replays the
// whole history, so a non-deterministic orchestrator (wall clock, randomness) would schedule different actions.
// The activities themselves are tested for real in promotion.test.ts; here their results are given.
import * as df from 'durable-functions';
import { promotionOrchestrator } from '../../../../shared/lifecycle/promotion/orchestrator';
import { PromotionInput, PromotionRecord } from '../../../../shared/lifecycle/promotion/types';
import { durableTesting as testing, historyEvent as event } from '../../../helpers/durableTesting';

const ActionType = { CallActivity: 0, CreateTimer: 5, WaitForExternalEvent: 6 } as const;
interface Action {
  actionType: number;
  functionName?: string;
  input?: any;
  fireAt?: string;
  externalEventName?: string;
  isCanceled?: boolean;
}

const T0 = new Date('2026-03-02T09:00:00.000Z');
const INPUT: PromotionInput = {
  promotionId: 'promotion-1.1.0-20260302T090000Z',
  model: 'spam-detector',
  version: '1.1.0',
  requestedBy: 'alice',
  requestedAt: T0.toISOString(),
  settings: { readyTimeoutS: 600, readyPollMs: 5000, approvalTimeoutS: 86400, accuracyMargin: 0.03, aucMargin: 0.02, smokeSamples: 300 },
};
const STAGING_URI = 'https://acct.blob.core.windows.net/models/spam-detector/1.1.0/triton/';

class Harness {
  private readonly history: any[];
  private readonly orchestrator = testing.createOrchestrator(promotionOrchestrator);
  private pending: Array<{ id?: number; action: Action }> = [];
  private seen = 0;
  private seq = 0;
  clock = T0;
  logs: string[] = [];
  state: any;

  constructor(input: PromotionInput = INPUT) {
    this.history = [
      new (event('OrchestratorStartedEvent'))({ eventId: -1, timestamp: T0, isPlayed: false }),
      new (event('ExecutionStartedEvent'))({
        eventId: -1,
        timestamp: T0,
        isPlayed: false,
        name: 'promotionOrchestrator',
        input: JSON.stringify(input),
      }),
    ];
  }

  /** Run one episode; returns the actions it added. */
  async run(): Promise<Action[]> {
    this.logs = [];
    const context = new df.DummyOrchestrationContext('promotionOrchestrator', 'invocation', (_level: unknown, ...args: unknown[]) =>
      this.logs.push(args.join(' ')),
    );
    this.state = await this.orchestrator(new testing.DurableOrchestrationInput(INPUT.promotionId, this.history, INPUT), context);
    const actions = (this.state.actions as Action[][]).flat();
    const fresh = actions.slice(this.seen);
    this.seen = actions.length;
    for (const action of fresh) {
      if (action.actionType === ActionType.WaitForExternalEvent) {
        this.pending.push({ action });
        continue;
      }
      const id = this.seq++;
      this.pending.push({ id, action });
      this.history.push(
        action.actionType === ActionType.CreateTimer
          ? new (event('TimerCreatedEvent'))({ eventId: id, timestamp: this.clock, isPlayed: false, fireAt: action.fireAt })
          : new (event('TaskScheduledEvent'))({
              eventId: id,
              timestamp: this.clock,
              isPlayed: false,
              name: action.functionName,
              input: JSON.stringify(action.input),
            }),
      );
    }
    return fresh;
  }

  private take(match: (a: Action) => boolean, what: string) {
    const i = this.pending.findIndex((p) => match(p.action));
    if (i < 0) throw new Error(`no pending ${what}`);
    return this.pending.splice(i, 1)[0];
  }

  private episode(ms: number) {
    this.clock = new Date(this.clock.getTime() + ms);
    this.history.push(new (event('OrchestratorStartedEvent'))({ eventId: -1, timestamp: this.clock, isPlayed: false }));
  }

  complete(functionName: string, result: unknown, ms = 1000): this {
    const { id } = this.take((a) => a.functionName === functionName, functionName);
    this.episode(ms);
    this.history.push(
      new (event('TaskCompletedEvent'))({
        eventId: -1,
        timestamp: this.clock,
        isPlayed: false,
        taskScheduledId: id,
        result: JSON.stringify(result),
      }),
    );
    return this;
  }

  fail(functionName: string, message: string): this {
    const { id } = this.take((a) => a.functionName === functionName, functionName);
    this.episode(1000);
    this.history.push(
      new (event('TaskFailedEvent'))({
        eventId: -1,
        timestamp: this.clock,
        isPlayed: false,
        taskScheduledId: id,
        reason: message,
        details: '',
      }),
    );
    return this;
  }

  fireTimer(): this {
    const { id, action } = this.take((a) => a.actionType === ActionType.CreateTimer && !a.isCanceled, 'timer');
    this.clock = new Date(action.fireAt!);
    this.history.push(new (event('OrchestratorStartedEvent'))({ eventId: -1, timestamp: this.clock, isPlayed: false }));
    this.history.push(
      new (event('TimerFiredEvent'))({ eventId: -1, timestamp: this.clock, isPlayed: false, timerId: id, fireAt: action.fireAt }),
    );
    return this;
  }

  raise(name: string, data: unknown, ms = 60_000): this {
    this.take((a) => a.actionType === ActionType.WaitForExternalEvent && a.externalEventName === name, `event ${name}`);
    this.episode(ms);
    this.history.push(
      new (event('EventRaisedEvent'))({ eventId: -1, timestamp: this.clock, isPlayed: false, name, input: JSON.stringify(data) }),
    );
    return this;
  }
}

const names = (actions: Action[]) =>
  actions.map((a) =>
    a.actionType === ActionType.CallActivity
      ? a.functionName
      : a.actionType === ActionType.CreateTimer
        ? 'timer'
        : `event:${a.externalEventName}`,
  );
const artifacts = {
  storageUri: STAGING_URI,
  card: { version: '1.1.0', accuracy: 0.96, rocAuc: 0.99, metricsKey: 'timeForwardTest', threshold: 0.6 },
};
const deployed = (env: string) => ({
  env,
  name: env === 'staging' ? 'spam-detector-staging' : 'spam-detector',
  storageUri: STAGING_URI,
  changed: true,
  previousStorageUri: 'old/',
  previousModelVersion: '1.0.0',
});
const ready = (env: string) => ({ env, verdict: 'ready', detail: 'Ready is True' });
const smoke = (passed: boolean) => ({
  passed,
  samples: 300,
  accuracy: passed ? 0.97 : 0.5,
  rocAuc: passed ? 0.99 : 0.5,
  reference: { accuracy: 0.96, rocAuc: 0.99, metricsKey: 'timeForwardTest' },
  margins: { accuracy: 0.03, auc: 0.02 },
  modelVersions: ['1.1.0'],
  failures: passed ? [] : ["accuracy 0.5000 is below the card's 0.9600 minus 0.03"],
});

/** Drive from the start to the approval wait (staging deployed, Ready after one poll, smoke passed). */
async function toApproval(h: Harness): Promise<Action[]> {
  expect(names(await h.run())).toEqual(['promotionCheckArtifacts']);
  expect(names(await h.complete('promotionCheckArtifacts', artifacts).run())).toEqual(['promotionDeploy']);
  expect(names(await h.complete('promotionDeploy', deployed('staging')).run())).toEqual(['promotionReadStatus']);
  // Not Ready yet: a durable timer (poll interval from the input, time from the history), then another look.
  const poll = await h.complete('promotionReadStatus', { env: 'staging', verdict: 'pending', detail: 'Ready is not True' }).run();
  expect(names(poll)).toEqual(['timer']);
  expect(new Date(poll[0].fireAt!).getTime()).toBe(h.clock.getTime() + INPUT.settings.readyPollMs);
  expect(names(await h.fireTimer().run())).toEqual(['promotionReadStatus']);
  expect(names(await h.complete('promotionReadStatus', ready('staging')).run())).toEqual(['promotionSmokeEvaluation']);
  const wait = await h.complete('promotionSmokeEvaluation', smoke(true)).run();
  expect(names(wait)).toEqual(['event:approval', 'timer']);
  expect(new Date(wait[1].fireAt!).getTime()).toBe(h.clock.getTime() + INPUT.settings.approvalTimeoutS * 1000);
  expect(h.state.customStatus).toMatchObject({ step: 'awaiting approval' });
  return wait;
}

test('happy path under the real runtime: approval, production, record; logs only new steps on replay', async () => {
  const h = new Harness();
  await toApproval(h);
  const afterApproval = await h.raise('approval', { approved: true, by: 'bob', at: '2026-03-02T10:00:00Z' }).run();
  expect(names(afterApproval)).toEqual(['promotionDeploy']);
  expect(afterApproval[0].input).toEqual({ env: 'production', version: '1.1.0', storageUri: STAGING_URI });
  // The whole history was replayed, but only this episode's steps were logged.
  expect(h.logs.map((l) => l.replace(/^\[promotion [^\]]+\] /, ''))).toEqual(['approved: by bob', 'deploy production']);
  await h.complete('promotionDeploy', deployed('production')).run();
  const last = await h.complete('promotionReadStatus', ready('production')).run();
  expect(names(last)).toEqual(['promotionRecord']);
  const record = last[0].input as PromotionRecord;
  expect(record).toMatchObject({ outcome: 'promoted', requestedBy: 'alice', approval: { by: 'bob' }, rollbacks: [] });
  // Times come from the history, never from the wall clock.
  expect(record.steps[0].at).toBe(T0.toISOString());
  expect(record.finishedAt).toBe(h.clock.toISOString());
  await h.complete('promotionRecord', { blob: 'models/promotions/x.json' }).run();
  expect(h.state.isDone).toBe(true);
  expect(h.state.output).toMatchObject({ outcome: 'promoted' });
});

test('failed smoke evaluation under the real runtime: staging rolled back, then recorded', async () => {
  const h = new Harness();
  await h.run();
  await h.complete('promotionCheckArtifacts', artifacts).run();
  await h.complete('promotionDeploy', deployed('staging')).run();
  await h.complete('promotionReadStatus', ready('staging')).run();
  const rollback = await h.complete('promotionSmokeEvaluation', smoke(false)).run();
  expect(names(rollback)).toEqual(['promotionRollback']);
  expect(rollback[0].input).toEqual({ env: 'staging', storageUri: STAGING_URI });
  const rec = await h.complete('promotionRollback', { env: 'staging', changed: true, storageUri: 'old/' }).run();
  expect(rec[0].input).toMatchObject({ outcome: 'rolled_back', reason: expect.stringMatching(/^smoke evaluation: accuracy/) });
});

test('approval timeout under the real runtime: the durable timer fires, staging is rolled back', async () => {
  const h = new Harness();
  const wait = await toApproval(h);
  const rollback = await h.fireTimer().run();
  expect(names(rollback)).toEqual(['promotionRollback']);
  const rec = await h.complete('promotionRollback', { env: 'staging', changed: true }).run();
  expect(rec[0].input).toMatchObject({ outcome: 'rolled_back', reason: 'awaiting approval: no decision within 86400 s' });
  // A day later by the history's clock (the timer's fireAt), not by the wall clock.
  expect(rec[0].input.finishedAt).toBe(h.clock.toISOString());
  expect(Date.parse(rec[0].input.finishedAt)).toBeGreaterThan(Date.parse(wait[1].fireAt!));
});

test('rejection and a failing activity under the real runtime', async () => {
  const h = new Harness();
  await toApproval(h);
  const rejected = await h.raise('approval', { approved: false, by: 'carol', at: 'x', comment: 'no' }).run();
  expect(names(rejected)).toEqual(['promotionRollback']);
  const rec = await h.complete('promotionRollback', { env: 'staging', changed: true }).run();
  expect(rec[0].input).toMatchObject({ outcome: 'rejected', reason: 'awaiting approval: rejected by carol: no' });

  // An activity that throws (Kubernetes API down during the production deploy) rolls back what changed.
  const h2 = new Harness();
  await toApproval(h2);
  await h2.raise('approval', { approved: true, by: 'bob', at: 'x' }).run();
  const back = await h2.fail('promotionDeploy', 'connect ECONNREFUSED').run();
  expect(names(back)).toEqual(['promotionRollback']);
  expect(back[0].input).toEqual({ env: 'staging', storageUri: STAGING_URI });
  const rec2 = await h2.complete('promotionRollback', { env: 'staging', changed: true }).run();
  expect(rec2[0].input).toMatchObject({ outcome: 'rolled_back', reason: expect.stringContaining('deploy production') });
});
