// The promotion's data: what starts it, what the approval event carries, and the record kept in Blob. Everything
// here crosses the Durable Functions boundary as JSON (orchestration input, activity input/output, events).
import type { Environment } from '../../platform/blobLayout';

export interface PromotionSettings {
  readyTimeoutS: number;
  readyPollMs: number;
  approvalTimeoutS: number;
  accuracyMargin: number;
  aucMargin: number;
  smokeSamples: number;
}

export interface PromotionInput {
  promotionId: string;
  model: string;
  version: string;
  requestedBy: string;
  requestedAt: string;
  /** Taken from configuration when the promotion starts, so a replay sees the same values. */
  settings: PromotionSettings;
  /** Approved by whoever started it (a retraining with RETRAIN_AUTO_APPROVE) instead of waiting for a person. */
  autoApprove?: boolean;
}

/** The external event `POST /api/promotions/{id}/approve|reject` raises. */
export const APPROVAL_EVENT = 'approval';

export interface ApprovalDecision {
  approved: boolean;
  by: string;
  at: string;
  comment?: string;
  /** True when no person decided: the starter approved it in advance (PromotionInput.autoApprove). */
  automatic?: boolean;
}

export interface ArtifactsChecked {
  storageUri: string;
  card: { version: string; accuracy: number; rocAuc: number; metricsKey: string; threshold: number };
}

export interface Deployment {
  env: Environment;
  name: string;
  storageUri: string;
  changed: boolean;
  previousStorageUri?: string;
  previousModelVersion?: string;
}

export interface ModelReadiness {
  env: Environment;
  verdict: 'ready' | 'failed' | 'pending';
  detail: string;
  url?: string;
  storageUri?: string;
}

export interface SmokeResult {
  passed: boolean;
  samples: number;
  accuracy: number;
  rocAuc: number;
  reference: { accuracy: number; rocAuc: number; metricsKey: string };
  margins: { accuracy: number; auc: number };
  /** model.version values the staging gateway answered with (must be exactly the promoted version). */
  modelVersions: string[];
  failures: string[];
}

export interface Rollback {
  env: Environment;
  changed: boolean;
  skipped?: string;
  storageUri?: string;
}

export type PromotionOutcome = 'promoted' | 'rejected' | 'rolled_back';

export interface PromotionStep {
  step: string;
  at: string;
  detail?: string;
}

export interface PromotionRecord {
  promotionId: string;
  model: string;
  version: string;
  outcome: PromotionOutcome;
  /** Why it did not promote (failed step and message), when it did not. */
  reason?: string;
  requestedBy: string;
  requestedAt: string;
  finishedAt: string;
  approval?: ApprovalDecision;
  smoke?: SmokeResult;
  deployments: Deployment[];
  rollbacks: Rollback[];
  steps: PromotionStep[];
}
