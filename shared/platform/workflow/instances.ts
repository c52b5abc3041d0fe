// The instances of one orchestrator, on either backend: the Durable task hub's instance table in Azure, or a table
// this process keeps for the in-process runner. Starting, listing what runs, reading a status and raising an event
// look the same to the services built on it (promotion, retraining), whichever backend WORKFLOW_BACKEND names.
import { OrchestrationRuntimeStatus, type DurableClient, type OrchestrationContext, type Task } from 'durable-functions';
import { errorMessage } from '../errors';
import { InProcessOrchestration, WorkflowLogger } from './inProcessRunner';

export interface InstanceStatus<R> {
  id: string;
  runtimeStatus: string;
  step?: unknown;
  createdTime?: string;
  lastUpdatedTime?: string;
  /** The orchestrator's output, once it has completed. */
  record?: R;
}

export interface WorkflowInstances<I, R> {
  readonly kind: 'durable' | 'in-process';
  start(instanceId: string, input: I): Promise<void>;
  /** Ids of the instances running or pending now. */
  running(): Promise<string[]>;
  status(id: string): Promise<InstanceStatus<R> | undefined>;
  raiseEvent(id: string, eventName: string, data: unknown): Promise<void>;
}

export interface OrchestratorDefinition<R> {
  readonly name: string;
  readonly orchestrator: (context: OrchestrationContext) => Generator<Task, R, unknown>;
}

/**
 * The in-process instances of an orchestrator, kept in `table` (one per orchestrator, owned by its service, so
 * its tests and CLI can await a run). State lives in memory and ends with the process.
 */
export function inProcessInstances<I, R>(
  definition: OrchestratorDefinition<R>,
  table: Map<string, InProcessOrchestration<R>>,
  logger: WorkflowLogger,
): WorkflowInstances<I, R> {
  return {
    kind: 'in-process',
    async start(instanceId, input) {
      const run = new InProcessOrchestration(definition.name, definition.orchestrator, input, instanceId, { logger });
      run.done.catch((err) => logger.error(`[${definition.name} ${instanceId}] failed: ${errorMessage(err)}`));
      table.set(instanceId, run);
    },
    async running() {
      return [...table.values()].filter((r) => r.getStatus().runtimeStatus === 'Running').map((r) => r.instanceId);
    },
    async status(id) {
      const run = table.get(id);
      if (!run) return undefined;
      const s = run.getStatus();
      return {
        id,
        runtimeStatus: s.runtimeStatus,
        step: s.customStatus,
        createdTime: s.createdTime,
        lastUpdatedTime: s.lastUpdatedTime,
        record: s.runtimeStatus === 'Completed' ? (s.output as R) : undefined,
      };
    },
    async raiseEvent(id, eventName, data) {
      table.get(id)?.raiseEvent(eventName, data);
    },
  };
}

/** The Durable instances of an orchestrator, through the starter function's Durable client. */
export function durableInstances<I, R>(
  definition: Pick<OrchestratorDefinition<R>, 'name'>,
  client: DurableClient,
): WorkflowInstances<I, R> {
  return {
    kind: 'durable',
    async start(instanceId, input) {
      await client.startNew(definition.name, { instanceId, input });
    },
    async running() {
      const list = await client.getStatusBy({ runtimeStatus: [OrchestrationRuntimeStatus.Running, OrchestrationRuntimeStatus.Pending] });
      return list.filter((s) => s.name === definition.name).map((s) => s.instanceId);
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
        record: String(s.runtimeStatus) === 'Completed' ? (s.output as R) : undefined,
      };
    },
    async raiseEvent(id, eventName, data) {
      await client.raiseEvent(id, eventName, data);
    },
  };
}
