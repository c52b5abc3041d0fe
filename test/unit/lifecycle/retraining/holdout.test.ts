// Which held-out rows decide: the newest mail both models never saw when there is enough of it, otherwise all of
// it with the comparison flagged as favouring the champion. The champion's training end comes from its card.
import fs from 'node:fs';
import path from 'node:path';
import { holdoutRowsToScore, MIN_UNSEEN_ROWS_PER_LABEL, trainedUntil } from '../../../../shared/lifecycle/retraining/holdout';
import type { HoldoutRow } from '../../../../shared/lifecycle/retraining/types';
import { COMMITTED_MODEL_VERSION, committedModelDir, MODEL_FILES } from '../../../../shared/model/modelArtifacts';
import { parseModelCard } from '../../../../shared/model/modelCard';
import { UNKNOWN_SENDER } from '../../../../shared/serving/features/featureList';

const UNTIL = Date.parse('2002-09-11T12:46:49.000Z');

/** `n` rows of each label, received `offsetMs` after the champion's training end (negative: before it). */
function rows(n: number, offsetMs: number, id: string): HoldoutRow[] {
  return Array.from({ length: 2 * n }, (_, i) => ({
    id: `${id}/${i}`,
    raw: Buffer.from(''),
    spam: i % 2 === 0,
    receivedAt: new Date(UNTIL + offsetMs + i * 1000).toISOString(),
    sender: UNKNOWN_SENDER,
  }));
}

test('the committed card gives the newest mail the model was fitted or validated on', () => {
  const card = parseModelCard(JSON.parse(fs.readFileSync(path.join(committedModelDir(), MODEL_FILES.card), 'utf8')));
  expect(card.version).toBe(COMMITTED_MODEL_VERSION);
  expect(trainedUntil(card)).toBe(UNTIL);
  expect(trainedUntil({ ...card, training: {} })).toBeUndefined();
});

test('enough unseen mail of each label: only it is scored, and nothing favours the champion', () => {
  const seen = rows(40, -86400_000, 'corpus');
  const unseen = rows(MIN_UNSEEN_ROWS_PER_LABEL, 86400_000, 'feedback');
  const result = holdoutRowsToScore([...seen, ...unseen], UNTIL);
  expect(result.scored).toEqual(unseen);
  expect(result.championSeen).toBe(seen.length);
  expect(result.optimisticForChampion).toBe(false);
});

test('too little unseen mail of one label: every row is scored, flagged as favouring the champion', () => {
  const seen = rows(40, -86400_000, 'corpus');
  const unseen = rows(MIN_UNSEEN_ROWS_PER_LABEL, 86400_000, 'feedback').filter((r, i) => r.spam || i > 1);
  const result = holdoutRowsToScore([...seen, ...unseen], UNTIL);
  expect(result.scored).toHaveLength(seen.length + unseen.length);
  expect(result.championSeen).toBe(seen.length);
  expect(result.optimisticForChampion).toBe(true);
});

test('mail at the very end of the training period, without a time, or of a champion whose card does not say, counts as seen', () => {
  const edge = rows(MIN_UNSEEN_ROWS_PER_LABEL, 0, 'edge');
  expect(holdoutRowsToScore(edge, UNTIL)).toMatchObject({ championSeen: 1, optimisticForChampion: true });
  const undated = rows(MIN_UNSEEN_ROWS_PER_LABEL, 1000, 'undated').map((r) => ({ ...r, receivedAt: null }));
  expect(holdoutRowsToScore(undated, UNTIL)).toMatchObject({ championSeen: undated.length, optimisticForChampion: true });
  const unseen = rows(MIN_UNSEEN_ROWS_PER_LABEL, 1000, 'feedback');
  expect(holdoutRowsToScore(unseen, undefined)).toMatchObject({ championSeen: unseen.length, optimisticForChampion: true });
  // All new to the champion: nothing to flag.
  expect(holdoutRowsToScore(unseen, UNTIL)).toMatchObject({ championSeen: 0, optimisticForChampion: false });
});
