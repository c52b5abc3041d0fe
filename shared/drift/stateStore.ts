// Drift state documents are JSON blobs with ETag conditions (readJsonBlob/writeJsonBlob in ../platform/blobStorage); this is
// the one operation the drift detector needs beyond those.
import { getContainerClient } from '../platform/blobStorage';

/** Delete a blob only if it still has `etag`; a blob changed or gone meanwhile is left alone. */
export async function deleteJsonBlobIfUnchanged(container: string, name: string, etag: string): Promise<void> {
  try {
    await getContainerClient(container)
      .getBlobClient(name)
      .delete({ conditions: { ifMatch: etag } });
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status !== 412 && status !== 404) throw err;
  }
}
