// Which held-out rows decide between champion and challenger. The held-out slice is the newest labelled mail, new to
// the challenger but not always to the champion: with little feedback its older part is the newest corpus mail, the
// committed model's validation slice (its L2 and threshold were chosen there), and after one retraining it can hold
// feedback the champion was fitted on. Scoring the champion on such rows flatters it.
import { z } from 'zod';
import type { ModelCard } from '../../model/modelCard';
import type { HoldoutRow } from './types';

/**
 * Held-out rows of each label, newer than all the champion's training mail, needed to compare on those rows alone.
 * Below it the whole held-out slice is scored, and the comparison says it favours the champion.
 */
export const MIN_UNSEEN_ROWS_PER_LABEL = 20;

const trainingSplitSchema = z.object({
  split: z.object({ fit: z.object({ receivedTo: z.string().nullable() }), validation: z.object({ receivedTo: z.string().nullable() }) }),
});

/** The newest mail a model was fitted or validated on (its L2 and threshold were chosen there), as its card says. */
export function trainedUntil(card: ModelCard): number | undefined {
  const parsed = trainingSplitSchema.safeParse(card.training);
  if (!parsed.success) return undefined;
  const times = [parsed.data.split.fit.receivedTo, parsed.data.split.validation.receivedTo].flatMap((t) => (t ? [Date.parse(t)] : []));
  return times.length ? Math.max(...times) : undefined;
}

/**
 * The rows both models are scored on: those newer than the champion's training mail when there are enough of each
 * label; otherwise all of them, flagged as favouring the champion (a row without a time counts as seen).
 */
export function holdoutRowsToScore(rows: readonly HoldoutRow[], championUntil: number | undefined) {
  const seen = (r: HoldoutRow) => championUntil === undefined || r.receivedAt === null || Date.parse(r.receivedAt) <= championUntil;
  const unseen = rows.filter((r) => !seen(r));
  const enough = [true, false].every((spam) => unseen.filter((r) => r.spam === spam).length >= MIN_UNSEEN_ROWS_PER_LABEL);
  const championSeen = rows.length - unseen.length;
  return { scored: enough ? unseen : rows, championSeen, optimisticForChampion: !enough && championSeen > 0 };
}
