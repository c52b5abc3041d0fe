// Internal modules of durable-functions 3.5: the history event classes and the testing helpers its own tests use
// (createOrchestrator + DurableOrchestrationInput). Untyped: durableFunctionsInternals.d.ts declares them.
import { EventRaisedEvent } from 'durable-functions/lib/src/history/EventRaisedEvent';
import { ExecutionStartedEvent } from 'durable-functions/lib/src/history/ExecutionStartedEvent';
import { OrchestratorStartedEvent } from 'durable-functions/lib/src/history/OrchestratorStartedEvent';
import { TaskCompletedEvent } from 'durable-functions/lib/src/history/TaskCompletedEvent';
import { TaskFailedEvent } from 'durable-functions/lib/src/history/TaskFailedEvent';
import { TaskScheduledEvent } from 'durable-functions/lib/src/history/TaskScheduledEvent';
import { TimerCreatedEvent } from 'durable-functions/lib/src/history/TimerCreatedEvent';
import { TimerFiredEvent } from 'durable-functions/lib/src/history/TimerFiredEvent';
import { createOrchestrator, DurableOrchestrationInput } from 'durable-functions/lib/src/util/testingUtils';

export const durableTesting = { createOrchestrator, DurableOrchestrationInput };

const historyEvents = {
  EventRaisedEvent,
  ExecutionStartedEvent,
  OrchestratorStartedEvent,
  TaskCompletedEvent,
  TaskFailedEvent,
  TaskScheduledEvent,
  TimerCreatedEvent,
  TimerFiredEvent,
};

/** The history event class of that name. */
export const historyEvent = (name: keyof typeof historyEvents) => historyEvents[name];
