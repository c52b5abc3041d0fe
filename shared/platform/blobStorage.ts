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
import { Config, getConfig } from './config';

export type StorageAuth = { kind: 'connectionString' } | { kind: 'identity'; url: string; clientId?: string };

export function storageAuth(config: Config = getConfig()): StorageAuth {
  const url =
    config.storageBlobServiceUri ??
    (config.storageAccountName ? `https://${config.storageAccountName}.blob.core.windows.net` : undefined);
  if (url) return { kind: 'identity', url, clientId: config.storageClientId };
  return { kind: 'connectionString' };
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
      sendRequest: (request) => {
        const bodyBytes = Number(request.headers.get('Content-Length') ?? 0);
        request.timeout = timeoutMs + (Number.isFinite(bodyBytes) ? Math.ceil((bodyBytes / MIN_UPLOAD_BYTES_PER_S) * 1000) : 0);
        return next.sendRequest(request);
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

/** Thrown when a conditional write lost a race. */
export class BlobConflictError extends Error {
  constructor(readonly blobName: string) {
    super(`${blobName} was changed by another run`);
    this.name = 'BlobConflictError';
  }
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
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const conditions = expectedEtag === undefined ? undefined : expectedEtag === null ? { ifNoneMatch: '*' } : { ifMatch: expectedEtag };
  try {
    const res = await containerOf(container)
      .getBlockBlobClient(name)
      .upload(text, Buffer.byteLength(text), { conditions, blobHTTPHeaders: { blobContentType: contentType } });
    return res.etag ?? '';
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (expectedEtag !== undefined && (status === 412 || status === 409)) throw new BlobConflictError(name);
    throw err;
  }
}
