// Starting and inspecting retrainings on the backend WORKFLOW_BACKEND names (Durable Functions in Azure, the
// in-process runner locally). At most one runs at a time: a second start is refused with the running one's id.
// "Is one running? No: start mine" is two calls, so two starters at once could both pass the check; a short Blob
// lease on a lock blob makes the check and the start one caller at a time (the instance table stays the only record
// of what runs, so nothing has to be unlocked when a run ends, and a starter that dies frees the lease by expiry).
import type { DurableClient } from 'durable-functions';
import type { InvocationContext } from '@azure/functions';
import { CONTAINERS, compactTime, Environment, retrainingStartLockPath } from '../../platform/blobLayout';
import { ensureContainers, getContainerClient, isBlobNotFound } from '../../platform/blobStorage';
import { getConfig } from '../../platform/config';
import { BadRequestError, ConflictError, errorMessage, NotFoundError } from '../../platform/errors';
import { MODEL_NAME } from '../../model/modelArtifacts';
import { workflowBackend } from '../../platform/workflow/backend';
import { InProcessOrchestration, WorkflowLogger } from '../../platform/workflow/inProcessRunner';
import { durableInstances, inProcessInstances, InstanceStatus, WorkflowInstances } from '../../platform/workflow/instances';
import { readRetrainingRecord } from './activities';
import { RETRAIN_ORCHESTRATOR, retrainOrchestrator } from './orchestrator';
import { retrainingTrainer } from './trainer';
import { RetrainingInput, RetrainingRecord, RetrainingTrigger } from './types';

export type RetrainingStatus = InstanceStatus<RetrainingRecord>;

export interface RetrainingBackend {
  readonly kind: 'durable' | 'in-process';
  start(input: RetrainingInput): Promise<void>;
  running(): Promise<string[]>;
  status(id: string): Promise<RetrainingStatus | undefined>;
}

const ID_PATTERN = /^retrain-[A-Za-z0-9._-]{1,100}$/;

export interface RetrainingRequest {
  trigger: RetrainingTrigger;
  requestedBy: string;
  /** Default: now. */
  cutoff?: Date;
  /** Default: RETRAIN_AUTO_APPROVE. */
  autoApprove?: boolean;
  /** Default: `retrain-{time}`; the drift trigger passes one per environment and day. */
  runId?: string;
}

export function retrainingSettings(autoApprove?: boolean): RetrainingInput['settings'] {
  const c = getConfig();
  return {
    minAucGain: c.retrainMinAucGain,
    minHamFprDecrease: c.retrainMinHamFprDecrease,
    maxHamFprIncrease: c.retrainMaxHamFprIncrease,
    maxSpamRecallDrop: c.retrainMaxSpamRecallDrop,
    holdoutFraction: c.retrainHoldoutFraction,
    autoApprove: autoApprove ?? c.retrainAutoApprove,
  };
}

export async function startRetraining(backend: RetrainingBackend, request: RetrainingRequest, now = new Date()): Promise<RetrainingInput> {
  const cutoff = request.cutoff ?? now;
  if (!Number.isFinite(cutoff.getTime())) throw new BadRequestError('cutoff must be an ISO 8601 time', 'validation_error');
  if (cutoff.getTime() > now.getTime()) throw new BadRequestError('cutoff must not lie in the future', 'validation_error');
  // Refused here, before a run starts, when the train step could not run in this app.
  retrainingTrainer();
  const runId = request.runId ?? `retrain-${compactTime(now, { milliseconds: true })}`;
  const input: RetrainingInput = {
    runId,
    model: MODEL_NAME,
    cutoff: cutoff.toISOString(),
    trigger: request.trigger,
    requestedBy: request.requestedBy,
    requestedAt: now.toISOString(),
    settings: retrainingSettings(request.autoApprove),
  };
  await whileStarting(MODEL_NAME, async () => {
    const running = await backend.running();
    if (running.length) throw new ConflictError(`retraining ${running[0]} is still running; wait for it first`);
    // Durable replaces a finished instance started again under its id (a timer slot delivered twice): its record stays.
    if (await readRetrainingRecord(MODEL_NAME, runId)) throw new ConflictError(`retraining ${runId} has run already`);
    await backend.start(input);
  });
  return input;
}

/** Longer than any check-and-start takes; what a starter that died holds is free again after it. */
const START_LEASE_SECONDS = 30;

/**
 * Run `start` holding the lease on the model's start lock: another starter at the same moment gets a 409 at once,
 * the same answer it would get a moment later from the run this one starts.
 */
async function whileStarting(model: string, start: () => Promise<void>): Promise<void> {
  const lock = getContainerClient(CONTAINERS.models).getBlockBlobClient(retrainingStartLockPath(model));
  const lease = lock.getBlobLeaseClient();
  for (let attempt = 0; ; attempt++) {
    try {
      await lease.acquireLease(START_LEASE_SECONDS);
      break;
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode === 409) {
        throw new ConflictError('another retraining is being started at this moment; try again when it is running');
      }
      if (!isBlobNotFound(err) || attempt > 0) throw err;
      // First use in this storage account: create the (empty) lock blob, unless a racing starter just did.
      await ensureContainers([CONTAINERS.models]);
      await lock.upload('', 0, { conditions: { ifNoneMatch: '*' } }).catch((e: unknown) => {
        const status = (e as { statusCode?: number }).statusCode;
        if (status !== 409 && status !== 412) throw e;
      });
    }
  }
  try {
    await start();
  } finally {
    await lease.releaseLease().catch(() => undefined);
  }
}

export async function getRetrainingStatus(backend: RetrainingBackend, id: string): Promise<RetrainingStatus> {
  if (!ID_PATTERN.test(id)) throw new NotFoundError(`no retraining ${JSON.stringify(id)}`);
  const status = await backend.status(id);
  if (status) return status;
  const record = await readRetrainingRecord(MODEL_NAME, id);
  if (!record) throw new NotFoundError(`no retraining ${id}`);
  return { id, runtimeStatus: 'Completed', step: { step: 'finished', outcome: record.outcome }, record };
}

/** The drift trigger's run id: one retraining per environment and UTC day, whatever number of critical reports. */
export function driftRetrainingId(env: Environment, at: Date): string {
  return `retrain-drift-${env}-${at.toISOString().slice(0, 10)}`;
}

/**
 * After a critical drift report (RETRAIN_ON_CRITICAL_DRIFT): start the day's retraining for the environment unless
 * it exists already (running or done: its record is in Blob) or another retraining is running.
 */
export async function retrainOnCriticalDrift(
  context: InvocationContext,
  report: { env: Environment; runId: string; at: Date },
): Promise<{ started?: string; skipped?: string }> {
  if (!getConfig().retrainOnCriticalDrift) return { skipped: 'RETRAIN_ON_CRITICAL_DRIFT is false' };
  const backend = retrainingBackend(context);
  const runId = driftRetrainingId(report.env, report.at);
  if ((await backend.status(runId)) || (await readRetrainingRecord(MODEL_NAME, runId))) return { skipped: `${runId} exists already` };
  try {
    await startRetraining(backend, { trigger: 'drift', requestedBy: `drift run ${report.runId}`, runId });
  } catch (err) {
    return { skipped: errorMessage(err) };
  }
  return { started: runId };
}

/** The backend WORKFLOW_BACKEND names for this invocation. */
export function retrainingBackend(context: InvocationContext): RetrainingBackend {
  const backend = workflowBackend(context);
  return backend.kind === 'durable' ? durableRetrainingBackend(backend.client) : inProcessRetrainingBackend(context);
}

// ----- backends ------------------------------------------------------------------------------------------------

function retrainingBackendOver(instances: WorkflowInstances<RetrainingInput, RetrainingRecord>): RetrainingBackend {
  return {
    kind: instances.kind,
    start: (input) => instances.start(input.runId, input),
    running: () => instances.running(),
    status: (id) => instances.status(id),
  };
}

const RETRAINING = { name: RETRAIN_ORCHESTRATOR, orchestrator: retrainOrchestrator };

// The retrainings this process runs, by id: the in-process stand-in for the Durable task hub's instance table.
const local = new Map<string, InProcessOrchestration<RetrainingRecord>>();

export function inProcessRetrainingBackend(logger: WorkflowLogger = console): RetrainingBackend {
  return retrainingBackendOver(inProcessInstances(RETRAINING, local, logger));
}

/** The in-process run of a retraining (tests and the CLI await it). */
export function localRetraining(id: string): InProcessOrchestration<RetrainingRecord> | undefined {
  return local.get(id);
}

export function durableRetrainingBackend(client: DurableClient): RetrainingBackend {
  return retrainingBackendOver(durableInstances(RETRAINING, client));
}
