// Drift runs as handles that last, on either workflow backend: starting one at most once per run id, joining it when
// it is asked for again, following it by id, and its result after it finished (from the stored report).
//
// Run ids are chosen by the starter and deterministic: `timer-{slot}-{env}` (driftSchedule.ts),
// `baseline-{activation}-{sha}-{env}` (baselineEvents.ts) and, for `POST /api/drift/run`,
// `http-{minute}-{hours}h[-v{version}]-{env}` (`onDemandRequest`): a window ends at the start of the minute the request
// came in, so every request for the same environment, length and version within a minute names the same run. The
// time in an id is on the date of the window's end, so an id alone locates its report (`parseRunId`).
//
// Bounds, so that callers cannot make the app do unbounded work: one run per id (a second start joins it); an
// on-demand run is refused (409, naming the run) while another run of the same environment is in flight; and a run
// whose report is stored is answered from the report, not run again. In-process (the local host), runs execute
// one at a time, in the order they were asked for, and give the event loop back between slices of work
// (shared/platform/cooperative.ts), so the host keeps answering; the app's shutdown cancels them
// (`cancelLocalDriftRuns`). Under Durable, the orchestration's activities run where the Functions host puts them.
import type { DurableClient } from 'durable-functions';
import { compactTime, CONTAINERS, driftReportPath, Environment, ENVIRONMENTS } from '../platform/blobLayout';
import { readJsonBlob } from '../platform/blobStorage';
import { runCancellable } from '../platform/cooperative';
import { ConflictError, errorMessage, NotFoundError } from '../platform/errors';
import type { WorkflowBackend } from '../platform/workflow/backend';
import type { WorkflowLogger } from '../platform/workflow/inProcessRunner';
import { durableInstances, InstanceStatus } from '../platform/workflow/instances';
import { DriftRunRequest, DriftRunSummary, summarizeRun } from './driftRun';
import { DRIFT_ORCHESTRATOR, runDriftInProcess } from './orchestration';
import type { DriftReport } from './report';

export type DriftRunStatus = InstanceStatus<DriftRunSummary>;

export interface DriftRunStart {
  /** started: a new run; joined: the same run was pending or running; finished: it ran, its report is stored. */
  outcome: 'started' | 'joined' | 'finished';
  status: DriftRunStatus;
}

const RUN_ID_PATTERN = new RegExp(
  `^(?:http|timer|baseline)-(\\d{4})(\\d{2})(\\d{2})T\\d{6}Z(?:-[A-Za-z0-9._-]{1,120})?-(${ENVIRONMENTS.join('|')})$`,
);

/** The environment and the report path a run id names; undefined for anything that is not a drift run id. */
function parseRunId(id: string): { env: Environment; report: string } | undefined {
  const m = RUN_ID_PATTERN.exec(id);
  if (!m) return undefined;
  const env = m[4] as Environment;
  return { env, report: driftReportPath(env, new Date(`${m[1]}-${m[2]}-${m[3]}T00:00:00Z`), id, 'json') };
}

/** The request behind `POST /api/drift/run`: the window ends at the start of the current minute (see the module comment). */
export function onDemandRequest(options: {
  env: Environment;
  modelName: string;
  hours: number;
  version?: string;
  now: Date;
}): DriftRunRequest {
  const end = new Date(Math.floor(options.now.getTime() / 60_000) * 60_000);
  const version = options.version === undefined ? '' : `-v${options.version}`;
  return {
    env: options.env,
    modelName: options.modelName,
    ...(options.version === undefined ? {} : { modelVersion: options.version }),
    windowEnd: end.toISOString(),
    windowHours: options.hours,
    trigger: 'http',
    runId: `http-${compactTime(end)}-${options.hours}h${version}-${options.env}`,
  };
}

/** A finished run's status from its stored report, or undefined when there is none. */
async function storedStatus(id: string): Promise<DriftRunStatus | undefined> {
  const parsed = parseRunId(id);
  if (!parsed) return undefined;
  const stored = await readJsonBlob<DriftReport>(CONTAINERS.driftReports, parsed.report);
  if (!stored) return undefined;
  const summary = summarizeRun(stored.value);
  return {
    id,
    runtimeStatus: 'Completed',
    step: { step: 'finished', status: summary.status },
    createdTime: stored.value.created_at,
    record: summary,
  };
}

// ----- in-process runs --------------------------------------------------------------------------------------------

/** A run in this process: queued behind the runs asked for before it, then run under its own cancellation signal. */
class LocalRun {
  readonly controller = new AbortController();
  status: DriftRunStatus;
  readonly done: Promise<DriftRunSummary>;

  constructor(
    readonly request: DriftRunRequest,
    after: Promise<unknown>,
    logger: WorkflowLogger,
  ) {
    const now = new Date().toISOString();
    this.status = { id: request.runId, runtimeStatus: 'Pending', step: { step: 'queued' }, createdTime: now, lastUpdatedTime: now };
    const work = () =>
      runCancellable(this.controller.signal, async () => {
        this.controller.signal.throwIfAborted();
        this.update('Running', { step: 'planning' });
        return runDriftInProcess(request, {
          logger,
          onProgress: (done, total, rows) => this.update('Running', { step: 'counting', partitions: { done, total }, rows }),
        });
      });
    this.done = after.then(work).then(
      (summary) => {
        this.update('Completed', { step: 'finished', status: summary.status }, summary);
        return summary;
      },
      (err: unknown) => {
        this.update('Failed', { step: 'failed', reason: errorMessage(err) });
        throw err;
      },
    );
    // Nobody may be waiting for an on-demand run (its caller has its 202): a failure is reported here, not thrown at no one.
    this.done.catch((err: unknown) => logger.error(`drift run ${request.runId} (${request.env}) failed: ${errorMessage(err)}`));
  }

  get active(): boolean {
    return this.status.runtimeStatus === 'Pending' || this.status.runtimeStatus === 'Running';
  }

  private update(runtimeStatus: string, step: unknown, record?: DriftRunSummary): void {
    this.status = { ...this.status, runtimeStatus, step, lastUpdatedTime: new Date().toISOString(), ...(record ? { record } : {}) };
  }
}

/** Finished runs kept for their status (the report answers for a run after that, when it stored one). */
const FINISHED_KEPT = 50;
// The runs this process has pending, running or recently finished, by id, in the order they were started.
const local = new Map<string, LocalRun>();
// The tail of the queue of in-process runs: each starts when the one before it has settled.
let queueTail: Promise<unknown> = Promise.resolve();

/** The run of `request` in this process: the one in flight under its id, or a new one queued behind the others. */
function localRun(request: DriftRunRequest, logger: WorkflowLogger): { run: LocalRun; joined: boolean } {
  const existing = local.get(request.runId);
  if (existing?.active) return { run: existing, joined: true };
  const run = new LocalRun(request, queueTail, logger);
  queueTail = run.done.catch(() => undefined);
  local.delete(request.runId); // a finished run of the same id goes to the end of the order
  local.set(request.runId, run);
  const finished = [...local.values()].filter((r) => !r.active);
  for (const old of finished.slice(0, Math.max(0, finished.length - FINISHED_KEPT))) local.delete(old.request.runId);
  return { run, joined: false };
}

/**
 * Cancel the in-process runs that are pending or running (the app is stopping) and wait until they have stopped:
 * a running one stops at its next checkpoint, removes its temp files and its partial counts. Resolves with how many
 * were cancelled.
 */
export async function cancelLocalDriftRuns(reason = 'the app is stopping'): Promise<number> {
  const active = [...local.values()].filter((r) => r.active);
  for (const run of active) run.controller.abort(new Error(`drift run ${run.request.runId} cancelled: ${reason}`));
  await Promise.allSettled(active.map((r) => r.done));
  return active.length;
}

// ----- both backends -----------------------------------------------------------------------------------------------

const IN_FLIGHT = ['Running', 'Pending'];

const driftInstances = (client: DurableClient) => durableInstances<DriftRunRequest, DriftRunSummary>({ name: DRIFT_ORCHESTRATOR }, client);

function localInFlight(env: Environment): string[] {
  return [...local.values()].filter((r) => r.active && r.request.env === env).map((r) => r.request.runId);
}

/** Ids of the drift runs of `env` that are pending or running. */
async function runsInFlight(backend: WorkflowBackend, env: Environment): Promise<string[]> {
  if (backend.kind === 'in-process') return localInFlight(env);
  const ids = await driftInstances(backend.client).running();
  return ids.filter((id) => parseRunId(id)?.env === env);
}

async function startDurable(client: DurableClient, request: DriftRunRequest): Promise<DriftRunStart> {
  const instances = driftInstances(client);
  try {
    await instances.start(request.runId, request);
  } catch (err) {
    // Started between our look and our start (a concurrent request for the same run): that one is ours too.
    const existing = await instances.status(request.runId);
    if (existing && IN_FLIGHT.includes(existing.runtimeStatus)) return { outcome: 'joined', status: existing };
    throw err;
  }
  return { outcome: 'started', status: (await instances.status(request.runId)) ?? { id: request.runId, runtimeStatus: 'Pending' } };
}

/**
 * An on-demand run (`POST /api/drift/run`): joins the run of the same id when it is in flight, answers from the
 * stored report when it has finished, is refused (ConflictError, naming the run and where to follow it) while
 * another run of the environment is in flight, and otherwise starts it without waiting for it.
 */
export async function requestDriftRun(
  backend: WorkflowBackend,
  request: DriftRunRequest,
  logger: WorkflowLogger,
  statusUrl: (id: string) => string,
): Promise<DriftRunStart> {
  const refuse = (other: string) =>
    new ConflictError(
      `drift run ${other} (${request.env}) is in flight, and one runs per environment at a time: follow it at ${statusUrl(other)} and ask again when it has finished`,
    );
  const current =
    backend.kind === 'durable' ? await driftInstances(backend.client).status(request.runId) : local.get(request.runId)?.status;
  if (current && IN_FLIGHT.includes(current.runtimeStatus)) return { outcome: 'joined', status: current };
  const other = (await runsInFlight(backend, request.env)).find((id) => id !== request.runId);
  if (other) throw refuse(other);
  const stored = await storedStatus(request.runId);
  if (stored) return { outcome: 'finished', status: stored };
  if (backend.kind === 'durable') return startDurable(backend.client, request);
  // Looked at again after the awaits above, so that in this process the last look and the start are one step.
  const busy = localInFlight(request.env).find((id) => id !== request.runId);
  if (busy) throw refuse(busy);
  const { run, joined } = localRun(request, logger);
  return { outcome: joined ? 'joined' : 'started', status: run.status };
}

/**
 * A check of the timer or a baseline event: in-process it runs here (joining the run of the same id when one is in
 * flight, queued behind the others) and resolves with its result; under Durable it starts the orchestration once
 * per run id (a failed or terminated one is started again) and resolves with 'started'.
 */
export async function startDriftCheck(
  backend: WorkflowBackend,
  request: DriftRunRequest,
  logger: WorkflowLogger,
): Promise<DriftRunSummary> {
  if (backend.kind === 'in-process') return localRun(request, logger).run.done;
  const existing = await driftInstances(backend.client).status(request.runId);
  if (existing && !['Failed', 'Terminated', 'Canceled'].includes(existing.runtimeStatus)) {
    return {
      run_id: request.runId,
      environment: request.env,
      status: 'started',
      reason: `orchestration already ${existing.runtimeStatus}`,
    };
  }
  await backend.client.startNew(DRIFT_ORCHESTRATOR, { instanceId: request.runId, input: request });
  return { run_id: request.runId, environment: request.env, status: 'started', reason: 'Durable orchestration started' };
}

/** `GET /api/drift/runs/{id}`: where the run is, and its summary once it has finished (from its report, after restarts). */
export async function getDriftRunStatus(backend: WorkflowBackend, id: string): Promise<DriftRunStatus> {
  if (!parseRunId(id)) throw new NotFoundError(`no drift run ${JSON.stringify(id.slice(0, 200))}`);
  const current = backend.kind === 'durable' ? await driftInstances(backend.client).status(id) : local.get(id)?.status;
  if (current) return current;
  // A run of a process that has stopped since, or a Durable instance purged from the task hub: its report answers.
  const stored = await storedStatus(id);
  if (stored) return stored;
  throw new NotFoundError(`no drift run ${id}`);
}
