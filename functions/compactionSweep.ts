// Timer sweep for inference-log compaction: compacts closed hours that still have raw blobs because no later blob
// event came (a quiet environment), an event was lost, or a run failed. Also finishes any crashed run's cleanup.
import { app, InvocationContext, Timer } from '@azure/functions';
import { compactClosedPartitions, compactionOptionsFromConfig } from '../shared/logs/compaction';

/** Every 15 minutes: a closed hour waits at most this long (plus the grace period) when no event compacts it. */
export const COMPACTION_SWEEP_SCHEDULE = '0 */15 * * * *';

export async function compactionSweep(_timer: Timer, context: InvocationContext): Promise<void> {
  const { results, errors } = await compactClosedPartitions(compactionOptionsFromConfig({ log: (m) => context.log(m) }));
  const compacted = results.filter((r) => r.status === 'compacted');
  context.log(
    `compaction sweep: ${compacted.length} hours compacted (${compacted.reduce((s, r) => s + r.rows, 0)} rows), ` +
      `${results.filter((r) => r.status === 'busy').length} busy, ${errors.length} failed`,
  );
  for (const e of errors) context.warn(`compaction of ${e.partition.env}/${e.partition.date}/${e.partition.hour} failed: ${e.error}`);
}

app.timer('compactionSweep', {
  schedule: COMPACTION_SWEEP_SCHEDULE,
  handler: compactionSweep,
});
