// Starting, deciding and inspecting promotions, whichever backend WORKFLOW_BACKEND names: Durable Functions in Azure
// (the HTTP functions get a DurableClient), or the in-process runner (the local host, the CLI, tests). Both run the
// same orchestrator and the same activities.
import { OrchestrationRuntimeStatus, type DurableClient } from 'durable-functions';
import { compactTime } from '../../platform/blobLayout';
import { getConfig } from '../../platform/config';
import { ConflictError, errorMessage, NotFoundError } from '../../platform/errors';
import { MODEL_NAME } from '../../model/modelArtifacts';
import { validateModelVersion } from '../../model/modelVersion';
import { InProcessOrchestration, WorkflowLogger } from '../../platform/workflow/inProcessRunner';
import { readPromotionRecord } from './activities';
import { PROMOTION_ORCHESTRATOR, promotionOrchestrator } from './orchestrator';
import { APPROVAL_EVENT, ApprovalDecision, PromotionInput, PromotionRecord } from './types';

export interface PromotionStatus {
  id: string;
  runtimeStatus: string;
  step?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
  record?: PromotionRecord;
}

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

// ----- in-process backend -----------------------------------------------------------------------------------

// The promotions this process runs, by id: the in-process stand-in for the Durable task hub's instance table.
const local = new Map<string, InProcessOrchestration<PromotionRecord>>();

export function inProcessBackend(logger: WorkflowLogger = console): PromotionBackend {
  return {
    kind: 'in-process',
    async start(input) {
      const run = new InProcessOrchestration(PROMOTION_ORCHESTRATOR, promotionOrchestrator, input, input.promotionId, { logger });
      run.done.catch((err) => logger.error(`[promotion ${input.promotionId}] failed: ${errorMessage(err)}`));
      local.set(input.promotionId, run);
    },
    async running() {
      return [...local.values()].filter((r) => r.getStatus().runtimeStatus === 'Running').map((r) => r.instanceId);
    },
    async status(id) {
      const run = local.get(id);
      if (!run) return undefined;
      const s = run.getStatus();
      return {
        id,
        runtimeStatus: s.runtimeStatus,
        step: s.customStatus,
        createdTime: s.createdTime,
        lastUpdatedTime: s.lastUpdatedTime,
        record: s.runtimeStatus === 'Completed' ? (s.output as PromotionRecord) : undefined,
      };
    },
    async raiseApproval(id, decision) {
      local.get(id)?.raiseEvent(APPROVAL_EVENT, decision);
    },
  };
}

/** The in-process run of a promotion (tests and the CLI await it). */
export function localPromotion(id: string): InProcessOrchestration<PromotionRecord> | undefined {
  return local.get(id);
}

// ----- Durable backend ----------------------------------------------------------------------------------------

export function durableBackend(client: DurableClient): PromotionBackend {
  return {
    kind: 'durable',
    async start(input) {
      await client.startNew(PROMOTION_ORCHESTRATOR, { instanceId: input.promotionId, input });
    },
    async running() {
      const list = await client.getStatusBy({ runtimeStatus: [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending] });
      return list.filter((s) => s.name === PROMOTION_ORCHESTRATOR).map((s) => s.instanceId);
    },
    async status(id) {
      let s;
      try {
        s = await client.getStatus(id, { showInput: false });
      } catch (err) {
        // durable-functions 3.x throws on the extension's 404 (unknown instance) instead of returning nothing.
        if (err instanceof Error && /HTTP 404/.test(err.message)) return undefined;
        throw err;
      }
      if (!s || !s.instanceId) return undefined;
      return {
        id,
        runtimeStatus: String(s.runtimeStatus),
        step: s.customStatus,
        createdTime: new Date(s.createdTime).toISOString(),
        lastUpdatedTime: new Date(s.lastUpdatedTime).toISOString(),
        record: String(s.runtimeStatus) === 'Completed' ? (s.output as PromotionRecord) : undefined,
      };
    },
    async raiseApproval(id, decision) {
      await client.raiseEvent(id, APPROVAL_EVENT, decision);
    },
  };
}
