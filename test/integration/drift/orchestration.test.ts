// The drift orchestrator under the real durable-functions 3.x runtime, driven step by step over built histories
// (ExecutionStarted, TaskScheduled/TaskCompleted, one OrchestratorStarted per episode), with every activity result
// produced by running the registered activity handler on Azurite with real raw and Parquet logs. Every episode
// replays the whole history, so a non-deterministic orchestrator would schedule different actions. The report must
// equal the one the same orchestrator gives under the in-process runner on the same window.
import { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { CONTAINERS } from '../../../shared/platform/blobLayout';
import { ensureContainers } from '../../../shared/platform/blobStorage';
import { activateBaselineUpload } from '../../../shared/drift/activeBaseline';
import { DriftRunRequest, DriftRunSummary, PartitionResult } from '../../../shared/drift/driftRun';
import {
  DRIFT_COUNT_PARTITION_ACTIVITY,
  DRIFT_FINISH_ACTIVITY,
  DRIFT_ORCHESTRATOR,
  DRIFT_PLAN_ACTIVITY,
  driftOrchestrator,
  readRunReport,
  runDriftInProcess,
} from '../../../shared/drift/orchestration';
import { activityNamed } from '../../../shared/platform/workflow/activity';
import { DriftReport } from '../../../shared/drift/report';
import { closeParquetEngine } from '../../../shared/logs/parquet';
import { startTestAzurite, TestAzurite } from '../../helpers/azurite';
import { baselineBytes, compactHour, logRecords, MODEL, readReportJson, records, reportBlobs } from '../../helpers/driftLogs';
import { setAppEnv } from '../../helpers/env';
import { durableTesting as testing, historyEvent as event } from '../../helpers/durableTesting';

interface Action {
  actionType: number;
  functionName?: string;
  input?: unknown;
}

let azurite: TestAzurite;
let restoreEnv: () => void;
const T0 = new Date('2026-11-26T06:00:00.000Z');
const HOURS = [3, 2, 1].map((h) => new Date(T0.getTime() - h * 3600_000));

function request(runId: string): DriftRunRequest {
  return { env: 'production', modelName: MODEL, modelVersion: '1', windowEnd: T0.toISOString(), windowHours: 24, trigger: 'timer', runId };
}

class Harness {
  private readonly history: unknown[];
  private readonly orchestrator = testing.createOrchestrator(driftOrchestrator);
  private seen = 0;
  private seq = 0;
  private clock = T0;
  private readonly scheduled = new Map<number, Action>();
  state: { isDone: boolean; output?: unknown; actions: Action[][] } | undefined;
  logs: string[] = [];

  constructor(private readonly input: DriftRunRequest) {
    this.history = [
      new (event('OrchestratorStartedEvent'))({ eventId: -1, timestamp: T0, isPlayed: false }),
      new (event('ExecutionStartedEvent'))({
        eventId: -1,
        timestamp: T0,
        isPlayed: false,
        name: DRIFT_ORCHESTRATOR,
        input: JSON.stringify(input),
      }),
    ];
  }

  /** Replay the whole history; returns the actions scheduled by this episode with their task ids. */
  async run(): Promise<{ id: number; action: Action }[]> {
    const context = new df.DummyOrchestrationContext(DRIFT_ORCHESTRATOR, 'invocation', (_l: unknown, ...args: unknown[]) =>
      this.logs.push(args.join(' ')),
    );
    this.state = await this.orchestrator(new testing.DurableOrchestrationInput(this.input.runId, this.history, this.input), context);
    const actions = this.state!.actions.flat();
    const fresh = actions.slice(this.seen).map((action) => ({ id: this.seq++, action }));
    this.seen = actions.length;
    for (const { id, action } of fresh) {
      this.scheduled.set(id, action);
      this.history.push(
        new (event('TaskScheduledEvent'))({
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

  /** Run the activity registered under the scheduled name and record its completion (one episode per completion). */
  async complete(id: number): Promise<unknown> {
    const action = this.scheduled.get(id)!;
    // Through JSON, as the Durable extension passes inputs and results.
    const input = JSON.parse(JSON.stringify(action.input));
    const activity = activityNamed(action.functionName!)!;
    const result = await activity.handler(input, new InvocationContext({ functionName: action.functionName, logHandler: () => undefined }));
    this.clock = new Date(this.clock.getTime() + 1000);
    this.history.push(new (event('OrchestratorStartedEvent'))({ eventId: -1, timestamp: this.clock, isPlayed: false }));
    this.history.push(
      new (event('TaskCompletedEvent'))({
        eventId: -1,
        timestamp: this.clock,
        isPlayed: false,
        taskScheduledId: id,
        result: JSON.stringify(result),
      }),
    );
    return result;
  }
}

beforeAll(async () => {
  azurite = await startTestAzurite();
  restoreEnv = setAppEnv({
    AzureWebJobsStorage: azurite.connectionString,
    ALERT_WEBHOOK_URL: undefined,
    DRIFT_MIN_ROWS: '100',
    COMPACTION_ROW_GROUP_ROWS: '1000',
  });
  await ensureContainers(Object.values(CONTAINERS));
  await logRecords([
    ...records({ env: 'production', hour: HOURS[0], count: 400, seed: 31, shift: 1.3 }),
    ...records({ env: 'production', hour: HOURS[1], count: 400, seed: 32 }),
    ...records({ env: 'production', hour: HOURS[2], count: 300, seed: 33 }),
  ]);
  await compactHour('production', HOURS[0]);
  await compactHour('production', HOURS[1]);
  const activation = await activateBaselineUpload('spam-detector/1/baseline.json', baselineBytes(), new Date('2026-11-20T00:00:00Z'));
  expect(activation.outcome).toBe('activated');
}, 120_000);

afterAll(async () => {
  await closeParquetEngine();
  restoreEnv();
  await azurite.dispose();
});

describe('drift orchestration', () => {
  it('plans, fans out one activity per partition, fans in, finishes; deterministic under replay; equal to the in-process run', async () => {
    const h = new Harness(request('durable-run'));
    const first = await h.run();
    expect(first.map((a) => a.action.functionName)).toEqual([DRIFT_PLAN_ACTIVITY]);
    expect(first[0].action.input).toEqual(request('durable-run'));
    await h.complete(first[0].id);

    const fanOut = await h.run();
    expect(fanOut.map((a) => a.action.functionName)).toEqual(Array(3).fill(DRIFT_COUNT_PARTITION_ACTIVITY));
    expect(fanOut.map((a) => (a.action.input as { partition: { hour: string } }).partition.hour)).toEqual(
      HOURS.map((t) => t.toISOString().slice(11, 13)),
    );
    // Complete them out of order: the merge goes by partition index, not by completion order.
    const partials: PartitionResult[] = [];
    for (const task of [...fanOut].reverse()) {
      partials.push((await h.complete(task.id)) as PartitionResult);
      if (task !== fanOut[0]) expect(await h.run()).toEqual([]); // nothing new until every partition is in
    }
    expect(partials.map((p) => p.rows).sort()).toEqual([300, 400, 400]);
    for (const p of partials) {
      expect(Object.keys(p).sort()).toEqual(['index', 'otherVersions', 'partialPath', 'rows']); // counts in Blob, not in the history
      expect(await reportBlobs(p.partialPath)).toEqual([p.partialPath]);
    }

    const finish = await h.run();
    expect(finish.map((a) => a.action.functionName)).toEqual([DRIFT_FINISH_ACTIVITY]);
    const summary = (await h.complete(finish[0].id)) as DriftRunSummary;
    expect(await h.run()).toEqual([]);
    expect(h.state!.isDone).toBe(true);
    expect(h.state!.output).toEqual(summary);
    expect(summary).toMatchObject({ run_id: 'durable-run', environment: 'production', rows: 1100 });
    for (const p of partials) expect(await reportBlobs(p.partialPath)).toEqual([]); // scratch removed

    const durable = await readReportJson<DriftReport>(summary.report!.json!);
    const progress: string[] = [];
    const inProcessSummary = await runDriftInProcess(
      { ...request('in-process-run'), alert: false },
      { onProgress: (d, t, r) => progress.push(`${d}/${t} ${r}`) },
    );
    expect(progress).toHaveLength(3);
    expect(progress[2]).toBe('3/3 1100');
    const inProcess = await readRunReport(inProcessSummary);
    expect(inProcess.alert.action).toBe('disabled');
    const strip = (r: DriftReport) => ({ ...r, run_id: '', paths: null, alert: null });
    expect(strip(inProcess)).toEqual(strip(durable));
    expect(durable.status).not.toBe('insufficient_data');
  });

  it('finishes with a skip, without fan-out, when the model has no active baseline', async () => {
    const h = new Harness({ ...request('no-baseline'), modelName: 'unknown-model', modelVersion: undefined });
    const [plan] = await h.run();
    await h.complete(plan.id);
    expect(await h.run()).toEqual([]);
    expect(h.state!.isDone).toBe(true);
    expect(h.state!.output).toEqual({
      run_id: 'no-baseline',
      environment: 'production',
      status: 'skipped',
      reason: 'no baseline has been activated for unknown-model',
    });
  });
});
