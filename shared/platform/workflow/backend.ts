// Which backend runs an invocation's workflows, from WORKFLOW_BACKEND alone. The setting, not the presence of a
// binding, decides: a starter function that lost its Durable client input must fail loudly in Azure rather than
// run a day-long approval wait in a process that scale-in may stop at any moment.
import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { ConfigError, getConfig } from '../config';

export type WorkflowBackend = { kind: 'durable'; client: df.DurableClient } | { kind: 'in-process' };

export function workflowBackend(context: InvocationContext): WorkflowBackend {
  if (getConfig().workflowBackend === 'in-process') return { kind: 'in-process' };
  const clientInput = context.options.extraInputs.find((input) => input.type === 'durableClient');
  if (!clientInput || !context.extraInputs.get(clientInput)) {
    throw new ConfigError(
      'WORKFLOW_BACKEND',
      'durable',
      `'in-process' where the host binds no Durable client: function ${context.functionName} was invoked without one (its registration needs extraInputs: [df.input.durableClient()] and the host the Durable Functions extension)`,
    );
  }
  return { kind: 'durable', client: df.getClient(context) };
}
