// Starting, deciding and inspecting promotions, whichever backend WORKFLOW_BACKEND names: Durable Functions in Azure
// (the HTTP functions get a DurableClient), or the in-process runner (the local host, the CLI, tests). Both run the
// same orchestrator and the same activities.
import type { DurableClient } from 'durable-functions';
import { compactTime } from '../../platform/blobLayout';
import { getConfig } from '../../platform/config';
import { ConflictError, NotFoundError } from '../../platform/errors';
import { MODEL_NAME } from '../../model/modelArtifacts';
import { validateModelVersion } from '../../model/modelVersion';
import { InProcessOrchestration, WorkflowLogger } from '../../platform/workflow/inProcessRunner';
import { durableInstances, inProcessInstances, InstanceStatus, WorkflowInstances } from '../../platform/workflow/instances';
import { readPromotionRecord } from './activities';
import { PROMOTION_ORCHESTRATOR, promotionOrchestrator } from './orchestrator';
import { APPROVAL_EVENT, ApprovalDecision, PromotionInput, PromotionRecord } from './types';

export type PromotionStatus = InstanceStatus<PromotionRecord>;

export interface PromotionBackend {
  readonly kind: 'durable' | 'in-process';
  start(input: PromotionInput): Promise<void>;
  running(): Promise<string[]>;
  status(id: string): Promise<PromotionStatus | undefined>;
  raiseApproval(id: string, decision: ApprovalDecision): Promise<void>;
}

const ID_PATTERN = /^promotion-[A-Za-z0-9._-]{1,100}$/;

function validateId(id: string): string {
  if (!ID_PATTERN.test(id)) throw new NotFoundError(`no promotion ${JSON.stringify(id)}`);
  return id;
}

/** Promotion ids carry the version and the start time, so the records sort by time in a listing. */
export function newPromotionId(version: string, at: Date): string {
  return `promotion-${version}-${compactTime(at)}`;
}

export function promotionSettings() {
  const c = getConfig();
  return {
    readyTimeoutS: c.promotionReadyTimeoutS,
    readyPollMs: c.promotionReadyPollMs,
    approvalTimeoutS: c.promotionApprovalTimeoutS,
    accuracyMargin: c.promotionAccuracyMargin,
    aucMargin: c.promotionAucMargin,
    smokeSamples: c.promotionSmokeSamples,
  };
}

export async function startPromotion(
  backend: PromotionBackend,
  version: string,
  requestedBy: string,
  now = new Date(),
  options: { autoApprove?: boolean } = {},
): Promise<PromotionInput> {
  validateModelVersion(version);
  const running = await backend.running();
  if (running.length) throw new ConflictError(`promotion ${running[0]} is still running; approve, reject or wait for it first`);
  const input: PromotionInput = {
    promotionId: newPromotionId(version, now),
    model: MODEL_NAME,
    version,
    requestedBy,
    requestedAt: now.toISOString(),
    settings: promotionSettings(),
    ...(options.autoApprove ? { autoApprove: true } : {}),
  };
  await backend.start(input);
  return input;
}

export async function decidePromotion(backend: PromotionBackend, id: string, decision: ApprovalDecision): Promise<PromotionStatus> {
  const status = await backend.status(validateId(id));
  if (!status) throw new NotFoundError(`no promotion ${id}`);
  const step = (status.step as { step?: string } | undefined)?.step;
  if (status.runtimeStatus !== 'Running' || step !== 'awaiting approval') {
    throw new ConflictError(`promotion ${id} is not awaiting approval (it is ${status.runtimeStatus}${step ? `, at '${step}'` : ''})`);
  }
  await backend.raiseApproval(id, decision);
  return status;
}

export async function getPromotionStatus(backend: PromotionBackend, id: string): Promise<PromotionStatus> {
  const status = await backend.status(validateId(id));
  if (status) return status;
  // A promotion that ran elsewhere (another process, an old instance purged from Durable) still has its record.
  const record = await readPromotionRecord(MODEL_NAME, id);
  if (!record) throw new NotFoundError(`no promotion ${id}`);
  return { id, runtimeStatus: 'Completed', step: { step: 'finished', outcome: record.outcome }, record };
}

// ----- backends ------------------------------------------------------------------------------------------------

function promotionBackendOver(instances: WorkflowInstances<PromotionInput, PromotionRecord>): PromotionBackend {
  return {
    kind: instances.kind,
    start: (input) => instances.start(input.promotionId, input),
    running: () => instances.running(),
    status: (id) => instances.status(id),
    raiseApproval: (id, decision) => instances.raiseEvent(id, APPROVAL_EVENT, decision),
  };
}

const PROMOTION = { name: PROMOTION_ORCHESTRATOR, orchestrator: promotionOrchestrator };

// The promotions this process runs, by id: the in-process stand-in for the Durable task hub's instance table.
const local = new Map<string, InProcessOrchestration<PromotionRecord>>();

export function inProcessBackend(logger: WorkflowLogger = console): PromotionBackend {
  return promotionBackendOver(inProcessInstances(PROMOTION, local, logger));
}

/** The in-process run of a promotion (tests and the CLI await it). */
export function localPromotion(id: string): InProcessOrchestration<PromotionRecord> | undefined {
  return local.get(id);
}

export function durableBackend(client: DurableClient): PromotionBackend {
  return promotionBackendOver(durableInstances(PROMOTION, client));
}
