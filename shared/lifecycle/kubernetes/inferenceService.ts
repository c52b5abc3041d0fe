// The KServe InferenceService as the promotion sees it: read its status (Ready condition, URL, the storageUri it
// serves), point it at a model version with a JSON merge patch (RFC 7386, `application/merge-patch+json`: custom
// resources accept no strategic merge patch), wait until the controller reports Ready for that change, and roll
// back to the version kept in an annotation.
//
// Ready is judged as `kubectl wait --for=condition=Ready` would, plus `status.observedGeneration` >= the
// generation our patch produced: right after a patch the old Ready=True is still there until the controller
// has seen the new spec (Kubernetes API conventions, "Typical status properties").
import type { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { AppError, BadGatewayError, ConflictError, NotFoundError } from '../../platform/errors';
import { clientNode } from './clientNode';
import { KubeConfigSource } from './kubeConfig';

export const INFERENCE_SERVICE = { group: 'serving.kserve.io', version: 'v1beta1', plural: 'inferenceservices' } as const;

/** Annotations this project keeps on an InferenceService so that a rollback knows where to go back to. */
export const ANNOTATIONS = {
  modelVersion: 'spam-detection.mlops/model-version',
  previousStorageUri: 'spam-detection.mlops/previous-storage-uri',
  previousModelVersion: 'spam-detection.mlops/previous-model-version',
} as const;

interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** The part of the InferenceService object this module reads (serving.kserve.io/v1beta1). */
export interface InferenceServiceObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    resourceVersion?: string;
    annotations?: Record<string, string>;
  };
  spec: { predictor: { model?: { storageUri?: string; modelFormat?: { name: string } } } & Record<string, unknown> };
  status?: {
    url?: string;
    address?: { url?: string };
    observedGeneration?: number;
    conditions?: Condition[];
  };
}

export interface InferenceServiceStatus {
  name: string;
  namespace: string;
  ready: boolean;
  /** True when the controller has reconciled the latest spec (observedGeneration >= generation). */
  reconciled: boolean;
  readyReason?: string;
  readyMessage?: string;
  url?: string;
  storageUri?: string;
  modelVersion?: string;
  previousStorageUri?: string;
  previousModelVersion?: string;
  generation?: number;
  observedGeneration?: number;
  resourceVersion?: string;
}

export interface DeployResult {
  status: InferenceServiceStatus;
  /** False when the InferenceService already served `storageUri` (nothing was patched). */
  changed: boolean;
  previousStorageUri?: string;
  previousModelVersion?: string;
}

/** The InferenceService did not become Ready in time, or its controller reported it failed. */
export class InferenceServiceNotReadyError extends AppError {
  constructor(
    message: string,
    readonly lastStatus?: InferenceServiceStatus,
  ) {
    super(504, 'not_ready', message);
  }
}

export function summarize(obj: InferenceServiceObject): InferenceServiceStatus {
  const ready = obj.status?.conditions?.find((c) => c.type === 'Ready');
  const annotations = obj.metadata.annotations ?? {};
  const generation = obj.metadata.generation;
  const observedGeneration = obj.status?.observedGeneration;
  return {
    name: obj.metadata.name,
    namespace: obj.metadata.namespace,
    ready: ready?.status === 'True',
    reconciled: generation === undefined || (observedGeneration !== undefined && observedGeneration >= generation),
    readyReason: ready?.reason,
    readyMessage: ready?.message,
    url: obj.status?.url ?? obj.status?.address?.url,
    storageUri: obj.spec.predictor.model?.storageUri,
    modelVersion: annotations[ANNOTATIONS.modelVersion],
    previousStorageUri: annotations[ANNOTATIONS.previousStorageUri],
    previousModelVersion: annotations[ANNOTATIONS.previousModelVersion],
    generation,
    observedGeneration,
    resourceVersion: obj.metadata.resourceVersion,
  };
}

/** An error from the Kubernetes API as one of the app's typed errors (the body is a metav1.Status). */
function toAppError(err: unknown, what: string): Error {
  const e = err as { code?: number; body?: unknown };
  if (typeof e?.code !== 'number') return err instanceof Error ? err : new Error(String(err));
  let message: string;
  try {
    const body = (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) as { message?: string } | undefined;
    message = body?.message ?? '';
  } catch {
    message = typeof e.body === 'string' ? e.body : '';
  }
  const text = `${what}: ${message || `HTTP ${e.code}`}`;
  if (e.code === 404) return new NotFoundError(text);
  if (e.code === 409) return new ConflictError(text);
  return new BadGatewayError(`${text} (Kubernetes API ${e.code})`);
}

/**
 * Ready for the latest spec, failed (a reason naming a failure — a crashing storage initializer, a model Triton
 * cannot load — will not heal by waiting), or not yet.
 */
export function readinessVerdict(s: InferenceServiceStatus): 'ready' | 'failed' | 'pending' {
  if (s.reconciled && s.ready) return 'ready';
  if (s.reconciled && s.readyReason && /Fail|Error|CrashLoop/i.test(s.readyReason)) return 'failed';
  return 'pending';
}

export function describeReadiness(s: InferenceServiceStatus): string {
  if (!s.reconciled) return `the controller has not reconciled generation ${s.generation} (observed ${s.observedGeneration ?? 'none'})`;
  return `Ready is ${s.ready ? 'True' : 'not True'}${s.readyReason ? ` (${s.readyReason}${s.readyMessage ? `: ${s.readyMessage}` : ''})` : ''}`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class InferenceServiceClient {
  private cache: { kc: KubeConfig; api: CustomObjectsApi } | undefined;

  constructor(
    private readonly source: KubeConfigSource,
    readonly namespace: string,
  ) {}

  private async customObjects(): Promise<CustomObjectsApi> {
    // The AKS source rebuilds its KubeConfig when the token expires; one API client per KubeConfig.
    const kc = await this.source.get();
    if (this.cache?.kc !== kc) this.cache = { kc, api: kc.makeApiClient(clientNode().CustomObjectsApi) };
    return this.cache.api;
  }

  async getObject(name: string): Promise<InferenceServiceObject> {
    const api = await this.customObjects();
    try {
      return (await api.getNamespacedCustomObject({ ...INFERENCE_SERVICE, namespace: this.namespace, name })) as InferenceServiceObject;
    } catch (err) {
      throw toAppError(err, `InferenceService ${this.namespace}/${name}`);
    }
  }

  async getStatus(name: string): Promise<InferenceServiceStatus> {
    return summarize(await this.getObject(name));
  }

  private async mergePatch(name: string, body: unknown): Promise<InferenceServiceObject> {
    const api = await this.customObjects();
    const { setHeaderOptions, PatchStrategy } = clientNode();
    try {
      return (await api.patchNamespacedCustomObject(
        { ...INFERENCE_SERVICE, namespace: this.namespace, name, body },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      )) as InferenceServiceObject;
    } catch (err) {
      throw toAppError(err, `patch of InferenceService ${this.namespace}/${name}`);
    }
  }

  /**
   * Point the predictor at `storageUri` and remember what it served before. The patch carries the
   * resourceVersion it was computed from, so a concurrent change gives 409 instead of a lost update; on 409 the
   * object is read again and the patch recomputed (a few times). Idempotent: already serving it → no patch.
   */
  async deploy(name: string, target: { storageUri: string; modelVersion: string }): Promise<DeployResult> {
    for (let attempt = 1; ; attempt++) {
      const current = summarize(await this.getObject(name));
      if (current.storageUri === target.storageUri) {
        return {
          status: current,
          changed: false,
          previousStorageUri: current.previousStorageUri,
          previousModelVersion: current.previousModelVersion,
        };
      }
      const patch = {
        metadata: {
          resourceVersion: current.resourceVersion,
          annotations: {
            [ANNOTATIONS.modelVersion]: target.modelVersion,
            [ANNOTATIONS.previousStorageUri]: current.storageUri ?? null,
            [ANNOTATIONS.previousModelVersion]: current.modelVersion ?? null,
          },
        },
        spec: { predictor: { model: { storageUri: target.storageUri } } },
      };
      try {
        const updated = summarize(await this.mergePatch(name, patch));
        return { status: updated, changed: true, previousStorageUri: current.storageUri, previousModelVersion: current.modelVersion };
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 3) throw err;
      }
    }
  }

  /**
   * Go back to the storageUri kept in the annotation. With `onlyIf`, only when the InferenceService still serves
   * that URI (someone else may have changed it since: then leave it alone). The annotations move back one step.
   */
  async rollback(name: string, onlyIf?: { storageUri: string }): Promise<DeployResult & { skipped?: string }> {
    for (let attempt = 1; ; attempt++) {
      const current = summarize(await this.getObject(name));
      if (onlyIf && current.storageUri !== onlyIf.storageUri) {
        return { status: current, changed: false, skipped: `serves ${current.storageUri ?? 'nothing'}, not ${onlyIf.storageUri}` };
      }
      if (!current.previousStorageUri) {
        return { status: current, changed: false, skipped: 'no previous version recorded' };
      }
      const patch = {
        metadata: {
          resourceVersion: current.resourceVersion,
          annotations: {
            [ANNOTATIONS.modelVersion]: current.previousModelVersion ?? null,
            [ANNOTATIONS.previousStorageUri]: null,
            [ANNOTATIONS.previousModelVersion]: null,
          },
        },
        spec: { predictor: { model: { storageUri: current.previousStorageUri } } },
      };
      try {
        const updated = summarize(await this.mergePatch(name, patch));
        return { status: updated, changed: true, previousStorageUri: current.storageUri, previousModelVersion: current.modelVersion };
      } catch (err) {
        if (!(err instanceof ConflictError) || attempt >= 3) throw err;
      }
    }
  }

  /** Poll until Ready=True for the latest generation; fail fast when the controller says Ready=False for it. */
  async waitReady(name: string, options: { timeoutMs: number; pollMs: number }): Promise<InferenceServiceStatus> {
    const deadline = Date.now() + options.timeoutMs;
    let last: InferenceServiceStatus | undefined;
    for (;;) {
      last = await this.getStatus(name);
      const verdict = readinessVerdict(last);
      if (verdict === 'ready') return last;
      if (verdict === 'failed') {
        throw new InferenceServiceNotReadyError(`InferenceService ${this.namespace}/${name} failed: ${describeReadiness(last)}`, last);
      }
      if (Date.now() >= deadline) break;
      await sleep(Math.min(options.pollMs, Math.max(0, deadline - Date.now())));
    }
    throw new InferenceServiceNotReadyError(
      `InferenceService ${this.namespace}/${name} not Ready after ${Math.round(options.timeoutMs / 1000)} s: ${describeReadiness(last)}`,
      last,
    );
  }
}
