// The one rule for a model version string. Versions become blob paths (`models/{model}/{version}/`, baselines,
// drift state), local directories and promotion ids, so anything that could climb out of its folder or break a
// name ('/', '..', spaces, a leading '.') is refused wherever a version enters the app.
import { BadRequestError } from '../platform/errors';

const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `version` when it is a valid model version (1-64 letters, digits, '.', '_', '-', starting with a letter or digit). */
export function validateModelVersion(version: unknown): string {
  if (typeof version !== 'string' || !VERSION_PATTERN.test(version)) {
    throw new BadRequestError(
      `model version ${JSON.stringify(version)} is not a valid model version (1-64 letters, digits, '.', '_', '-', starting with a letter or digit)`,
    );
  }
  return version;
}
