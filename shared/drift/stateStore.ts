// Small JSON documents the drift detector keeps in Blob (active baselines, alert state), read and written with
// ETag conditions so that two runs racing on the same state (a timer and a baseline event, or a redelivered event)
// cannot both win: the loser sees a conflict and re-reads.
import { buffer } from 'node:stream/consumers';
import { getContainerClient, isBlobNotFound } from '../blobStorage';

export interface StoredJson<T> {
  value: T;
  etag: string;
}

export async function readJsonBlob<T>(container: string, name: string): Promise<StoredJson<T> | undefined> {
  try {
    const blob = getContainerClient(container).getBlobClient(name);
    const response = await blob.download();
    const body = await buffer(response.readableStreamBody!);
    return { value: JSON.parse(body.toString('utf8')) as T, etag: response.etag ?? '' };
  } catch (err) {
    if (isBlobNotFound(err)) return undefined;
    throw err;
  }
}

/** Thrown when a conditional write lost a race. */
export class StateConflictError extends Error {
  constructor(readonly blobName: string) {
    super(`${blobName} was changed by another run`);
    this.name = 'StateConflictError';
  }
}

/**
 * Write `value` as JSON. `expectedEtag`: the ETag read before (the write fails if the blob changed since), or
 * null (the write fails if the blob exists), or undefined (unconditional). Returns the new ETag.
 */
export async function writeJsonBlob(
  container: string,
  name: string,
  value: unknown,
  expectedEtag?: string | null,
  contentType = 'application/json',
): Promise<string> {
  const text = typeof value === 'string' ? value : JSON.stringify(value, null, 2);
  const conditions = expectedEtag === undefined ? undefined : expectedEtag === null ? { ifNoneMatch: '*' } : { ifMatch: expectedEtag };
  try {
    const res = await getContainerClient(container)
      .getBlockBlobClient(name)
      .upload(text, Buffer.byteLength(text), { conditions, blobHTTPHeaders: { blobContentType: contentType } });
    return res.etag ?? '';
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (expectedEtag !== undefined && (status === 412 || status === 409)) throw new StateConflictError(name);
    throw err;
  }
}

export async function blobExists(container: string, name: string): Promise<boolean> {
  return getContainerClient(container).getBlobClient(name).exists();
}

/** Delete a blob only if it still has `etag`; a blob changed or gone meanwhile is left alone. */
export async function deleteJsonBlobIfUnchanged(container: string, name: string, etag: string): Promise<void> {
  try {
    await getContainerClient(container).getBlobClient(name).delete({ conditions: { ifMatch: etag } });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 412 && status !== 404) throw err;
  }
}
