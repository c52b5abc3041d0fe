// Where things are, for tests at any depth under test/: the repository root and the compiled app and tools.
import path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** A file of the build output (`npm run build`), e.g. `distPath('tools', 'cli', 'drift.js')`. */
export function distPath(...parts: string[]): string {
  return path.join(REPO_ROOT, 'dist', ...parts);
}
