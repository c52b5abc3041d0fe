// Internal modules of durable-functions 3.5 that the orchestrator tests drive (see durableTesting.ts). The package
// ships no typings for them; like the require() calls they replace, they are untyped here.
declare module 'durable-functions/lib/src/util/testingUtils';
declare module 'durable-functions/lib/src/history/EventRaisedEvent';
declare module 'durable-functions/lib/src/history/ExecutionStartedEvent';
declare module 'durable-functions/lib/src/history/OrchestratorStartedEvent';
declare module 'durable-functions/lib/src/history/TaskCompletedEvent';
declare module 'durable-functions/lib/src/history/TaskFailedEvent';
declare module 'durable-functions/lib/src/history/TaskScheduledEvent';
declare module 'durable-functions/lib/src/history/TimerCreatedEvent';
declare module 'durable-functions/lib/src/history/TimerFiredEvent';
