// The retraining's data: what starts it, what the trainer is handed and hands back, the comparison of the two models
// on the held-out newest mail, and the record kept in Blob. Everything that crosses the Durable boundary is JSON.
import type { ClassificationMetrics } from '../../model/modelCard';
import type { SenderFeatures } from '../../serving/features/featureList';

export type RetrainingTrigger = 'http' | 'timer' | 'drift';

export interface RetrainingSettings {
  minAucGain: number;
  minHamFprDecrease: number;
  maxHamFprIncrease: number;
  maxSpamRecallDrop: number;
  holdoutFraction: number;
  autoApprove: boolean;
}

export interface RetrainingInput {
  runId: string;
  model: string;
  /** Feedback received before this time (exclusive) is in the dataset. */
  cutoff: string;
  trigger: RetrainingTrigger;
  requestedBy: string;
  requestedAt: string;
  /** Taken from configuration (and the request) when the run starts, so a replay sees the same values. */
  settings: RetrainingSettings;
}

/** A labelled RFC 822 message from outside the corpus, with the time it counts as received. */
export interface LabelledMessage {
  /** Stable across runs (the feedback's message key), so that the same data gives the same model. */
  readonly id: string;
  readonly raw: Buffer;
  readonly spam: boolean;
  readonly receivedAt: Date;
}

/** One held-out row: what any model needs to be scored on it as the challenger was (same sender statistics). */
export interface HoldoutRow {
  readonly id: string;
  readonly raw: Buffer;
  readonly spam: boolean;
  readonly receivedAt: string | null;
  readonly sender: SenderFeatures;
}

/** One model's figures on the held-out slice, at its own card threshold. */
export interface ModelScore {
  version: string;
  threshold: number;
  metrics: ClassificationMetrics;
}

export interface Comparison {
  /** The rows both models were scored on (their counts and times), and how they relate to the held-out slice. */
  holdout: {
    rows: number;
    spam: number;
    ham: number;
    feedback: number;
    receivedFrom: string | null;
    receivedTo: string | null;
    /** Rows the challenger held out; `rows` of them were scored. */
    heldOut: number;
    /** Held-out rows no newer than the champion's training mail: it may have been fitted or tuned on them. */
    championSeen: number;
    /** Scored on rows the champion may have seen (too few newer ones): the figures favour the champion. */
    optimisticForChampion: boolean;
  };
  champion: ModelScore;
  challenger: ModelScore;
}

export interface GateDecision {
  passed: boolean;
  aucGain: number;
  hamFprIncrease: number;
  spamRecallDrop: number;
  minAucGain: number;
  minHamFprDecrease?: number;
  maxHamFprIncrease: number;
  maxSpamRecallDrop: number;
  reasons: string[];
}

export type RetrainingOutcome = 'promotion_started' | 'registered' | 'rejected' | 'failed';

export interface RetrainingStep {
  step: string;
  at: string;
  detail?: string;
}

/** The run's input but its settings (the gate decision repeats those it used), and what came of it. */
export interface RetrainingRecord extends Omit<RetrainingInput, 'settings'> {
  finishedAt: string;
  outcome: RetrainingOutcome;
  reason?: string;
  champion?: string;
  challenger?: string;
  feedback?: FeedbackSummary;
  comparison?: Comparison;
  gate?: GateDecision;
  /** Where the challenger's files are (always kept, registered or not). */
  challengerPrefix?: string;
  /** `alreadyRegistered`: the version existed before this run, which then wrote nothing and removes nothing. */
  registered?: { uploaded: string[]; mlflow?: string; alreadyRegistered?: boolean };
  promotionId?: string;
  steps: RetrainingStep[];
}

export interface FeedbackSummary {
  messages: number;
  spam: number;
  ham: number;
  receivedFrom: string | null;
  receivedTo: string | null;
}
