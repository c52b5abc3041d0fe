// Core Tools reads `local.settings.json` (Values) into the worker's environment; the local host does the same.
// Variables already set in the environment win, so a one-off `KSERVE_TIMEOUT_MS=500 npm start` works.
import fs from 'node:fs';
import path from 'node:path';

export function loadLocalSettings(projectDir: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const file = path.join(projectDir, 'local.settings.json');
  if (!fs.existsSync(file)) return undefined;
  let parsed: { Values?: Record<string, unknown> };
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as { Values?: Record<string, unknown> };
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  for (const [key, value] of Object.entries(parsed.Values ?? {})) {
    if (env[key] === undefined && value !== null && value !== undefined)
      env[key] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return file;
}
