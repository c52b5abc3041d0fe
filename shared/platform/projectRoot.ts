// The project root: the folder holding package.json and host.json above this module. It is the same folder for
// the sources under ts-jest, the compiled app in dist/, and a deployed Function App, so committed models,
// package.json's version and .git are found from any of them.
import fs from 'node:fs';
import path from 'node:path';

/** The project root, or undefined when this module runs outside a project folder. */
export function findProjectRoot(start: string = __dirname): string | undefined {
  for (let dir = start; ; dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'host.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The project root; the working directory when there is none. */
export function projectRoot(): string {
  return findProjectRoot() ?? process.cwd();
}
