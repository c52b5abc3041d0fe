// The sender statistics of the corpus's training period: the `sender_stats` rows the Feast store holds when the
// committed model has been trained, i.e. the values its time-forward test figures were computed with. One
// definition for the training pipeline, `npm run features:materialize` (its default source) and the local stack's
// start-up, so the three cannot disagree.
import { CorpusMessage, loadCorpus, timeForwardSplit } from './corpus';
import type { SenderFeatureRow } from '../shared/serving/featureStore/featureStore';
import type { ParsedEmail } from '../shared/serving/features/email';
import { isCorpusArtefact } from '../shared/serving/features/tokenizer';
import { parseEmail } from '../shared/serving/features/transformer';
import { senderDomainHash } from '../shared/serving/predict/senderHash';
import { SenderEvent, SenderHistory } from '../shared/serving/featureStore/senderStats';

/**
 * A labelled message as a sender event keyed by `key(sender domain)`; undefined when it has no sender domain, or
 * when that domain is one of the collectors' own (redacted) domains: it tells how the mail was collected, not who
 * sent it, so, as in the tokenizer, it carries no statistics (the gateway then reads such a sender as unknown).
 */
export function senderEvent(message: CorpusMessage, email: ParsedEmail, key: (domain: string) => string): SenderEvent | undefined {
  if (!email.senderDomain || isCorpusArtefact(email.senderDomain) || !message.receivedAt) return undefined;
  return { senderKey: key(email.senderDomain), spam: message.spam, time: message.receivedAt };
}

/** When the store is materialized for a model trained on `trainingPeriod`: its most recent Received: time. */
export function trainingPeriodEnd(trainingPeriod: readonly CorpusMessage[]): Date {
  let end = -Infinity;
  for (const m of trainingPeriod) if (m.receivedAt && m.receivedAt.getTime() > end) end = m.receivedAt.getTime();
  if (!Number.isFinite(end)) throw new Error('the training period has no Received: time');
  return new Date(end);
}

export interface TrainingSenderStats {
  /** The training period's end: the event time of every row. */
  readonly asOf: Date;
  readonly rows: SenderFeatureRow[];
  readonly messages: number;
  readonly events: number;
}

/** The two moments a store of the training period is materialized at (docs/model.md, "Sender features"). */
export type TrainingStoreMoment = 'training-end' | 'fit-end';

/** The training period's labelled sender events, parsed once; the store as of either moment from them. */
export interface TrainingSenders {
  readonly messages: number;
  readonly events: number;
  /** `training-end`: the store the test period and the deployed model read; `fit-end`: the one the validation slice read. */
  storeAt(moment: TrainingStoreMoment): TrainingSenderStats;
}

/**
 * The training period's sender events (every labelled message the model was built from: fit and validation), keyed
 * by the keyed hash of the sender domain. Parses the period's mail: a few seconds.
 */
export async function loadTrainingSenders(hashKey: string, progress: (line: string) => void = () => undefined): Promise<TrainingSenders> {
  const split = timeForwardSplit(loadCorpus());
  const period = [...split.fit, ...split.validation];
  const events: SenderEvent[] = [];
  for (const [i, message] of period.entries()) {
    const event = senderEvent(message, await parseEmail({ raw: message.raw }), (domain) => senderDomainHash(domain, hashKey));
    if (event) events.push(event);
    if ((i + 1) % 1000 === 0) progress(`parsed ${i + 1}/${period.length} training-period messages`);
  }
  const history = new SenderHistory(events);
  const ends: Record<TrainingStoreMoment, Date> = { 'training-end': trainingPeriodEnd(period), 'fit-end': trainingPeriodEnd(split.fit) };
  return {
    messages: period.length,
    events: events.length,
    storeAt: (moment) => ({ asOf: ends[moment], rows: history.rowsAt(ends[moment]), messages: period.length, events: events.length }),
  };
}

/** The training period's `sender_stats` as of its end (or, with `asOf: 'fit-end'`, of the fit set's end). */
export async function trainingSenderStats(
  hashKey: string,
  options: { asOf?: TrainingStoreMoment; progress?: (line: string) => void } = {},
): Promise<TrainingSenderStats> {
  return (await loadTrainingSenders(hashKey, options.progress)).storeAt(options.asOf ?? 'training-end');
}
