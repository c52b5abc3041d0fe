// What `azd deploy` puts in the Function App package, and what the app-only build makes of it.
//
// azd (azure.yaml: remoteBuild: true) uploads the project folder minus `.funcignore` (gitignore semantics); in Azure,
// Oryx then runs `npm install` and `npm run build`, and `npm run build:azure` as well when that script exists (it runs
// after `build`, not instead of it: Oryx's NodePlatform.cs / NodeBashBuildSnippet.sh.tpl). So what keeps dev tools
// and training code out of the deployed dist/ is their sources being absent from the upload.
//
// This script reproduces the upload: the project's files (tracked, plus untracked ones .funcignore keeps) are
// copied to a temporary folder with `.funcignore` as its `.gitignore`, and `git add -A && git ls-files` there lists
// what passes. Then it compiles the app in that copy, as the package's own build would: `tsc -p tsconfig.app.json`
// (functions/ and shared/ only) and `tsc -p tsconfig.build.json` (what `npm run build` runs there).
//
//   node dist/tools/scripts/packageContents.js           summary (files and bytes per top-level folder)
//   node dist/tools/scripts/packageContents.js --list    every file as well
//   node dist/tools/scripts/packageContents.js --json    machine-readable (test/integration/infra/packageContents.test.ts)
//   --keep                                              keep the staged copy (its path is printed / in the JSON)
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findProjectRoot } from '../../shared/platform/projectRoot';

export interface FolderSummary {
  readonly files: number;
  readonly bytes: number;
}

export interface BuildOutput {
  /** The tsconfig compiled in the staged package. */
  readonly project: string;
  /** tsc's exit status and output (errors, if any). */
  readonly status: number;
  readonly output: string;
  /** The files emitted under dist/, relative to the staged package, sorted. */
  readonly emitted: string[];
}

export interface PackageContents {
  /** The staged package (removed unless keep). */
  readonly stagingDir: string;
  /** The files `.funcignore` lets through, relative to the project root, sorted. */
  readonly files: string[];
  readonly bytes: number;
  /** By top-level folder (a file at the root counts under "."). */
  readonly byFolder: Record<string, FolderSummary>;
  /** The app-only build (tsconfig.app.json) and the package's `npm run build` (tsconfig.build.json), in the copy. */
  readonly appBuild: BuildOutput;
  readonly packageBuild: BuildOutput;
}

function git(cwd: string, args: string[]): string {
  // No global or system excludes: only the .gitignore written here may decide.
  return execFileSync('git', ['-c', 'core.excludesFile=/dev/null', '-c', 'core.autocrlf=false', ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' },
  });
}

/**
 * The project's files as azd sees the folder: everything but .git, node_modules/ and dist/ (rebuilt remotely).
 * .gitignore plays no part: azd applies .funcignore alone, so a file git ignores but .funcignore does not is uploaded.
 */
function projectFiles(root: string): string[] {
  // Untracked files that .funcignore leaves out are not even copied (an Azurite data folder can be large).
  const out = git(root, [
    'ls-files',
    '-z',
    '--cached',
    '--others',
    '--exclude-from=.funcignore',
    '--exclude=node_modules/',
    '--exclude=dist/',
  ]);
  return [...new Set(out.split('\0').filter(Boolean))].filter((f) => fs.statSync(path.join(root, f), { throwIfNoEntry: false })?.isFile());
}

function listFiles(dir: string, base = dir): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listFiles(full, base));
    else out.push(path.relative(base, full).split(path.sep).join('/'));
  }
  return out.sort();
}

function compile(root: string, stagingDir: string, project: string): BuildOutput {
  fs.rmSync(path.join(stagingDir, 'dist'), { recursive: true, force: true });
  const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  let status = 0;
  let output: string;
  if (!fs.existsSync(path.join(stagingDir, project))) {
    return { project, status: 1, output: `${project} is not in the package`, emitted: [] };
  }
  try {
    output = execFileSync(process.execPath, [tsc, '-p', project], { cwd: stagingDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { status?: number; stdout?: string; stderr?: string };
    status = e.status ?? 1;
    output = `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
  return { project, status, output, emitted: listFiles(path.join(stagingDir, 'dist')).map((f) => `dist/${f}`) };
}

/** Stage the package and build it. */
export function packageContents(options: { root?: string; keep?: boolean } = {}): PackageContents {
  const root = options.root ?? findProjectRoot(__dirname);
  if (!root) throw new Error('no project root (package.json + host.json) above this script');
  const stagingDir = fs.mkdtempSync(path.join(os.tmpdir(), 'funcpkg-'));
  try {
    // 1. What .funcignore lets through.
    const src = path.join(stagingDir, 'src');
    for (const f of projectFiles(root)) {
      // Nested .gitignore files would add rules azd does not apply.
      if (path.basename(f) === '.gitignore') continue;
      fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
      fs.copyFileSync(path.join(root, f), path.join(src, f));
    }
    fs.copyFileSync(path.join(root, '.funcignore'), path.join(src, '.gitignore'));
    git(src, ['init', '-q']);
    git(src, ['add', '-A']);
    const files = git(src, ['ls-files', '-z']).split('\0').filter(Boolean).sort();

    // 2. The package alone, as uploaded: compile it with the installed node_modules beside it.
    const pkg = path.join(stagingDir, 'package');
    for (const f of files) {
      fs.mkdirSync(path.dirname(path.join(pkg, f)), { recursive: true });
      fs.copyFileSync(path.join(root, f), path.join(pkg, f));
    }
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
    fs.rmSync(src, { recursive: true, force: true });
    const packageBuild = compile(root, pkg, 'tsconfig.build.json');
    const appBuild = compile(root, pkg, 'tsconfig.app.json');

    const byFolder: Record<string, FolderSummary> = {};
    let bytes = 0;
    for (const f of files) {
      const size = fs.statSync(path.join(root, f)).size;
      const top = f.includes('/') ? f.slice(0, f.indexOf('/')) : '.';
      const s = byFolder[top] ?? { files: 0, bytes: 0 };
      byFolder[top] = { files: s.files + 1, bytes: s.bytes + size };
      bytes += size;
    }
    return { stagingDir: pkg, files, bytes, byFolder, appBuild, packageBuild };
  } finally {
    if (!options.keep) fs.rmSync(stagingDir, { recursive: true, force: true });
  }
}

function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(1)} KiB`;
}

function emittedByFolder(emitted: string[]): string {
  const count = new Map<string, number>();
  for (const f of emitted) {
    const parts = f.split('/');
    const key = parts.length > 2 ? `dist/${parts[1]}/` : f;
    count.set(key, (count.get(key) ?? 0) + 1);
  }
  return [...count].map(([k, n]) => `${k} ${n}`).join(', ') || '(nothing)';
}

export function formatSummary(c: PackageContents, list = false): string {
  const lines = ['Function App package (what .funcignore lets through):'];
  const width = Math.max(...Object.keys(c.byFolder).map((k) => k.length), 5);
  for (const [folder, s] of Object.entries(c.byFolder).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(
      `  ${(folder === '.' ? '(root)' : `${folder}/`).padEnd(width + 1)}  ${String(s.files).padStart(4)} files  ${kb(s.bytes).padStart(10)}`,
    );
  }
  lines.push(`  ${'total'.padEnd(width + 1)}  ${String(c.files.length).padStart(4)} files  ${kb(c.bytes).padStart(10)}`);
  if (list) for (const f of c.files) lines.push(`    ${f}`);
  for (const b of [c.packageBuild, c.appBuild]) {
    const js = b.emitted.filter((f) => f.endsWith('.js'));
    lines.push(
      `Build in the package, tsc -p ${b.project}: ${b.status === 0 ? 'ok' : `FAILED (${b.status})`}, ${js.length} .js (${b.emitted.length} files with maps): ${emittedByFolder(js)}`,
    );
    if (b.status !== 0) lines.push(b.output.trim());
  }
  return lines.join('\n');
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const c = packageContents({ keep: args.includes('--keep') });
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(c)}\n`);
  else {
    process.stdout.write(`${formatSummary(c, args.includes('--list'))}\n`);
    if (args.includes('--keep')) process.stdout.write(`Staged package: ${c.stagingDir}\n`);
  }
  if (c.appBuild.status !== 0 || c.packageBuild.status !== 0) process.exitCode = 1;
}
