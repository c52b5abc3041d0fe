// One BlobServiceClient for the whole app, built on first use from the same connection settings the Functions
// host reads for its blob triggers: identity-based (`AzureWebJobsStorage__accountName` / `__blobServiceUri`,
// optional `__clientId`) in Azure, a connection string (Azurite's `UseDevelopmentStorage=true`) locally.
import { buffer } from 'node:stream/consumers';
import { DefaultAzureCredential, TokenCredential } from '@azure/identity';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerClient,
  newPipeline,
  RequestPolicyFactory,
  StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { Config, getConfig, STORAGE_CONNECTION } from './config';
import { errorMessage } from './errors';

export type StorageAuth = { kind: 'connectionString' } | { kind: 'identity'; url: string; clientId?: string };

export function storageAuth(config: Config = getConfig()): StorageAuth {
  const url =
    config.storageBlobServiceUri ?? (config.storageAccountName ? `https://${config.storageAccountName}.blob.core.windows.net` : undefined);
  if (url) return { kind: 'identity', url, clientId: config.storageClientId };
  return { kind: 'connectionString' };
}

/** The setting that decides which Blob endpoint is used, for messages about it. */
export function storageSettingName(config: Config = getConfig()): string {
  if (storageAuth(config).kind === 'connectionString') return STORAGE_CONNECTION;
  return config.storageBlobServiceUri ? `${STORAGE_CONNECTION}__blobServiceUri` : `${STORAGE_CONNECTION}__accountName`;
}

/** `host:port` of the configured Blob endpoint; undefined when the settings do not make one (a malformed string). */
export function blobEndpoint(config: Config = getConfig()): string | undefined {
  try {
    const auth = storageAuth(config);
    return new URL(auth.kind === 'identity' ? auth.url : BlobServiceClient.fromConnectionString(config.storageConnectionString).url).host;
  } catch {
    return undefined;
  }
}

const UNREACHABLE = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH)\b/;

/**
 * When `err` is a failure to connect to the configured Blob endpoint (refused, or a name that does not resolve),
 * a message naming the endpoint and its setting; undefined for any other error. The SDK's own message is a bare
 * `connect ECONNREFUSED 127.0.0.1:10000`.
 */
export function storageUnreachable(err: unknown, config: Config = getConfig()): { endpoint: string; message: string } | undefined {
  const endpoint = blobEndpoint(config);
  if (!endpoint) return undefined;
  // With its port when the endpoint names one: Azurite and the local model servers share 127.0.0.1.
  const nested = (err as { errors?: unknown[] } | undefined)?.errors ?? [];
  const texts = [err, (err as { cause?: unknown } | undefined)?.cause, ...nested]
    .filter((e) => e !== undefined)
    .map((e) => `${(e as { code?: string }).code ?? ''} ${errorMessage(e)}`);
  if (!texts.some((t) => UNREACHABLE.test(t) && t.includes(endpoint))) return undefined;
  return { endpoint, message: `Blob storage at ${endpoint} (setting ${storageSettingName(config)}) is not reachable` };
}

/** A local endpoint (Azurite) is started by `npm start`; a remote one is not ours to start. */
export function isLocalEndpoint(endpoint: string): boolean {
  return /^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(endpoint);
}

/** The slowest upload a request body is allowed: a 90 MB Parquet part gets 90 s on top of the base limit. */
const MIN_UPLOAD_BYTES_PER_S = 1024 * 1024;

/**
 * A v1 request policy that gives a request a client-side deadline until its response starts: `timeoutMs`, plus one
 * second per MiB of request body, since the clock runs while the body is sent. The SDK's `tryTimeoutInMs` only asks
 * the service to give up (a `timeout` query parameter): against a storage endpoint that accepts connections and
 * never answers, a request hung for minutes, and with it log flushes and model loads. A request past its deadline
 * fails (the SDK does not retry an aborted request); its caller's own retry applies (the logger's backoff, the next
 * compaction run, the model load's Retry-After).
 */
function clientTimeoutPolicy(timeoutMs: number): RequestPolicyFactory {
  return {
    create: (next) => ({
      sendRequest: async (request) => {
        const bodyBytes = Number(request.headers.get('Content-Length') ?? 0);
        const deadlineMs = timeoutMs + (Number.isFinite(bodyBytes) ? Math.ceil((bodyBytes / MIN_UPLOAD_BYTES_PER_S) * 1000) : 0);
        // The deadline is an abort signal of our own, not `request.timeout`: the HTTP client (@typespec/ts-http-runtime
        // NodeHttpClient) clears its `timeout` timer only when a response arrives, so every request that failed
        // without one (refused, reset, aborted by its caller) left a timer running for the whole deadline, and with
        // it the process (a test worker that could not exit). Ours ends with the request, however it ends. The
        // client aborts the same way on either signal (an AbortError, not retried).
        const caller = request.abortSignal;
        const deadline = new AbortController();
        const onCallerAbort = () => deadline.abort();
        if (caller?.aborted) deadline.abort();
        else caller?.addEventListener('abort', onCallerAbort);
        const timer = setTimeout(() => deadline.abort(), deadlineMs);
        request.abortSignal = deadline.signal;
        try {
          // Settles once the response starts (streamed bodies) or has been read: the deadline covers no more.
          return await next.sendRequest(request);
        } finally {
          clearTimeout(timer);
          caller?.removeEventListener('abort', onCallerAbort);
          request.abortSignal = caller;
        }
      },
    }),
  };
}

export function createBlobServiceClient(config: Config = getConfig()): BlobServiceClient {
  const auth = storageAuth(config);
  const options: StoragePipelineOptions = {
    retryOptions: { maxTries: 3, tryTimeoutInMs: config.blobTimeoutMs },
  };
  let url: string;
  let credential: TokenCredential | StorageSharedKeyCredential | AnonymousCredential;
  if (auth.kind === 'identity') {
    url = auth.url;
    credential = new DefaultAzureCredential(auth.clientId ? { managedIdentityClientId: auth.clientId } : {});
  } else {
    // The SDK parses the connection string (account key, SAS, UseDevelopmentStorage); the client is rebuilt on a
    // pipeline of our own below. Checked by the config parser only for presence: a malformed string fails here, on
    // first use, with the SDK's message.
    const parsed = BlobServiceClient.fromConnectionString(config.storageConnectionString);
    url = parsed.url;
    credential = parsed.credential;
  }
  const pipeline = newPipeline(credential, options);
  pipeline.factories.push(clientTimeoutPolicy(config.blobTimeoutMs));
  return new BlobServiceClient(url, pipeline);
}

let client: BlobServiceClient | undefined;

export function getBlobServiceClient(): BlobServiceClient {
  client ??= createBlobServiceClient();
  return client;
}

export function getContainerClient(container: string): ContainerClient {
  return getBlobServiceClient().getContainerClient(container);
}

/** Drop the cached client (tests point the app at another Azurite). */
export function resetBlobServiceClient(): void {
  client = undefined;
}

/** Read a whole blob into memory; undefined when it does not exist. */
export async function downloadBuffer(container: string, blobName: string): Promise<Buffer | undefined> {
  try {
    return await getContainerClient(container).getBlobClient(blobName).downloadToBuffer();
  } catch (err) {
    if (isBlobNotFound(err)) return undefined;
    throw err;
  }
}

export function isBlobNotFound(err: unknown): boolean {
  const e = err as { statusCode?: number; code?: string };
  return e?.statusCode === 404 || e?.code === 'BlobNotFound' || e?.code === 'ContainerNotFound';
}

/** Create the app's containers when missing (the Bicep creates them in Azure; Azurite starts empty). */
export async function ensureContainers(names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => getContainerClient(name).createIfNotExists()));
}

// Small JSON documents (drift state, compaction manifests) read and written with ETag conditions, so that two runs
// racing on the same document cannot both win: the loser sees a conflict and re-reads.

export interface StoredJson<T> {
  value: T;
  etag: string;
}

/** Thrown when a conditional write lost a race; `statusCode` and `code` are the service's refusal (409 or 412). */
export class BlobConflictError extends Error {
  readonly statusCode?: number;
  readonly code?: string;
  constructor(
    readonly blobName: string,
    refusal?: unknown,
  ) {
    super(`${blobName} was changed by another run`, refusal === undefined ? undefined : { cause: refusal });
    this.name = 'BlobConflictError';
    const r = refusal as { statusCode?: number; code?: string } | undefined;
    this.statusCode = r?.statusCode;
    this.code = r?.code;
  }
}

function isRefusal(err: unknown): boolean {
  const status = (err as { statusCode?: number })?.statusCode;
  return status === 409 || status === 412;
}

function jsonText(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function containerOf(container: string | ContainerClient): ContainerClient {
  return typeof container === 'string' ? getContainerClient(container) : container;
}

/** A JSON blob and the ETag it was read at; undefined when it does not exist. */
export async function readJsonBlob<T>(container: string | ContainerClient, name: string): Promise<StoredJson<T> | undefined> {
  try {
    const response = await containerOf(container).getBlobClient(name).download();
    const body = await buffer(response.readableStreamBody!);
    return { value: JSON.parse(body.toString('utf8')) as T, etag: response.etag ?? '' };
  } catch (err) {
    if (isBlobNotFound(err)) return undefined;
    throw err;
  }
}

/**
 * Write `value` as JSON (a string is written as is). `expectedEtag`: the ETag read before (the write fails with
 * BlobConflictError if the blob changed since), or null (fails if the blob exists), or undefined (unconditional).
 * Returns the new ETag.
 */
export async function writeJsonBlob(
  container: string | ContainerClient,
  name: string,
  value: unknown,
  expectedEtag?: string | null,
  contentType = 'application/json',
): Promise<string> {
  const text = jsonText(value);
  const conditions = expectedEtag === undefined ? undefined : expectedEtag === null ? { ifNoneMatch: '*' } : { ifMatch: expectedEtag };
  try {
    const res = await containerOf(container)
      .getBlockBlobClient(name)
      .upload(text, Buffer.byteLength(text), { conditions, blobHTTPHeaders: { blobContentType: contentType } });
    return res.etag ?? '';
  } catch (err) {
    if (expectedEtag !== undefined && isRefusal(err)) throw new BlobConflictError(name, err);
    throw err;
  }
}

// A claim written with a condition (the blob absent, at the ETag read before, or under the caller's lease). The
// answer to such a write can mislead: an answer lost after the service stored the write makes the SDK retry, and the
// retry's condition then fails against the write itself; a write whose answer timed out may have landed, or land
// later. Neither error proves the claim failed, so a failed write is judged by what is stored.

/** If-None-Match: *, If-Match an ETag, or a lease the caller holds (optionally at an ETag too). */
export type WriteCondition = { ifNoneMatch: '*' } | { ifMatch: string } | { leaseId: string; ifMatch?: string };

export interface ConditionalWrite<T> {
  container: string | ContainerClient;
  blob: string;
  /** Written as JSON (a string as is). */
  value: unknown;
  condition: WriteCondition;
  /** Whether a stored document is this write's own (a claim id, a part name, a content hash). */
  isOurs(stored: T): boolean;
  /** Last check before sending; what it throws refuses the write unsent (a lease known to be lost). */
  beforeSend?(): void;
  /** Reads what is stored when the answer was an error (default: readJsonBlob); a read that throws decides nothing. */
  read?: () => Promise<StoredJson<T> | undefined>;
  contentType?: string;
}

export type ConditionalWriteResult<T> =
  /** Stored. `recovered`: the write answered `error`, yet what is stored is ours (its answer was lost or late). */
  | { outcome: 'written'; etag: string; recovered?: { error: unknown; stored: StoredJson<T> } }
  /**
   * Not stored, and never will be: refused before sending, or by the service (409/412, as a BlobConflictError), and
   * what is stored (undefined: nothing) is not ours.
   */
  | { outcome: 'refused'; error: unknown; stored: StoredJson<T> | undefined }
  /** The write may still land (a timeout, a network error), or what is stored could not be read: a later read decides. */
  | { outcome: 'unknown'; error: unknown };

/** Write a claim under `condition`; when the answer is an error, read what is stored and let it decide. */
export async function conditionalWrite<T>(w: ConditionalWrite<T>): Promise<ConditionalWriteResult<T>> {
  const text = jsonText(w.value);
  let sent = false;
  try {
    w.beforeSend?.();
    sent = true;
    const res = await containerOf(w.container)
      .getBlockBlobClient(w.blob)
      .upload(text, Buffer.byteLength(text), {
        conditions: w.condition,
        blobHTTPHeaders: { blobContentType: w.contentType ?? 'application/json' },
      });
    return { outcome: 'written', etag: res.etag ?? '' };
  } catch (error) {
    const read = w.read ?? (() => readJsonBlob<T>(w.container, w.blob));
    let stored: StoredJson<T> | undefined;
    let ours: boolean;
    try {
      stored = await read();
      ours = stored !== undefined && w.isOurs(stored.value);
    } catch {
      return { outcome: 'unknown', error };
    }
    if (ours) return { outcome: 'written', etag: stored!.etag, recovered: { error, stored: stored! } };
    if (!sent) return { outcome: 'refused', error, stored };
    if (isRefusal(error)) return { outcome: 'refused', error: new BlobConflictError(w.blob, error), stored };
    // Any other error (a timeout, a reset connection) may hide a write still on its way.
    return { outcome: 'unknown', error };
  }
}
