// Point the app's lazily built configuration and clients at test values.
import { resetBlobServiceClient } from '../../shared/platform/blobStorage';
import { resetConfig } from '../../shared/platform/config';

/** Set environment variables for the app (undefined deletes) and drop everything built from the old ones. */
export function setAppEnv(vars: Record<string, string | undefined>): () => void {
  const previous: Record<string, string | undefined> = {};
  for (const [key, value] of Object.entries(vars)) {
    previous[key] = process.env[key];
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
  resetConfig();
  resetBlobServiceClient();
  return () => {
    for (const [key, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    resetConfig();
    resetBlobServiceClient();
  };
}
