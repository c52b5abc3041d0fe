// The Function App package (`azd deploy`, remote build): the upload is the project minus `.funcignore`, and Oryx runs
// `npm install` + `npm run build` on it. It must hold what the app runs and nothing else: no dev tools, no training
// code, no tests, docs or infrastructure; the app must compile from it alone; and every module the compiled
// functions load must be in it. tools/scripts/packageContents.ts stages the package (git and tsc in child processes).
import fs from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { formatSummary, PackageContents, packageContents } from '../../../tools/scripts/packageContents';
import { COMMITTED_MODEL_VERSION, MODEL_FILES, MODEL_NAME } from '../../../shared/model/modelArtifacts';
import { REPO_ROOT } from '../../helpers/paths';

const FORBIDDEN_FOLDERS = ['tools/', 'training/', 'test/', 'docs/', 'bicep/', 'aks/', 'node_modules/', 'dist/', '.github/', '.ci/'];
const DEV_ONLY_FILES = [
  'jest.config.js',
  'eslint.config.mjs',
  'Dockerfile',
  '.dockerignore',
  '.gitignore',
  '.funcignore',
  '.editorconfig',
  '.prettierrc.json',
  '.prettierignore',
  'README.md',
  'azure.yaml',
  'local.settings.json',
  'local.settings.example.json',
];

let c: PackageContents;

beforeAll(() => {
  c = packageContents({ root: REPO_ROOT, keep: true });
  // The summary in the test log: what a deployment uploads.
  process.stdout.write(`${formatSummary(c)}\n`);
}, 240_000);

afterAll(() => {
  if (c) fs.rmSync(path.dirname(c.stagingDir), { recursive: true, force: true });
});

describe('the Function App package', () => {
  it('holds no dev tools, training code, tests, docs or infrastructure', () => {
    expect(c.files.filter((f) => FORBIDDEN_FOLDERS.some((d) => f.startsWith(d)))).toEqual([]);
    expect(c.files.filter((f) => DEV_ONLY_FILES.includes(f))).toEqual([]);
    // Nothing else than the app's folders, the committed model and the build's own files.
    // The licence and the notices travel with the code they cover (the KS port is SciPy's, under BSD-3).
    const allowedRoot = [
      'host.json',
      'package.json',
      'package-lock.json',
      '.npmrc',
      'tsconfig.json',
      'tsconfig.build.json',
      'tsconfig.app.json',
      'LICENSE',
      'THIRD_PARTY_NOTICES.md',
    ];
    const other = c.files.filter((f) => !/^(functions|shared|models)\//.test(f) && !allowedRoot.includes(f));
    expect(other).toEqual([]);
    expect(c.files).toEqual(expect.arrayContaining(allowedRoot));
    expect(c.files.some((f) => f.startsWith('functions/'))).toBe(true);
  });

  it('holds the committed model the gateway loads at run time, and no other model files', () => {
    // environmentModels.modelDirFor: without MODEL_DIR_*, each environment's first model is committedModelDir().
    const dir = `models/${MODEL_NAME}/${COMMITTED_MODEL_VERSION}/`;
    const wanted = [MODEL_FILES.card, MODEL_FILES.tokens, MODEL_FILES.onnx].map((f) => dir + f).sort();
    expect(c.files.filter((f) => f.startsWith('models/')).sort()).toEqual(wanted);
  });

  it('compiles alone, with the app-only build and with `npm run build`, into dist/functions and dist/shared only', () => {
    for (const b of [c.appBuild, c.packageBuild]) {
      expect({ project: b.project, status: b.status, output: b.output }).toEqual({ project: b.project, status: 0, output: '' });
      expect(b.emitted.filter((f) => !/^dist\/(functions|shared)\//.test(f))).toEqual([]);
      expect(b.emitted.filter((f) => /^dist\/(tools|training|test)\//.test(f))).toEqual([]);
    }
    expect(c.appBuild.emitted).toEqual(c.packageBuild.emitted);
    // One compiled file per source file of the package.
    const sources = c.files.filter((f) => /^(functions|shared)\/.*\.ts$/.test(f)).map((f) => `dist/${f.replace(/\.ts$/, '.js')}`);
    expect(c.appBuild.emitted.filter((f) => f.endsWith('.js'))).toEqual(sources.sort());
  });

  it('has every module the compiled functions require, transitively, and their packages in `dependencies`', () => {
    const pkg = c.stagingDir;
    const emitted = new Set(c.appBuild.emitted);
    const { dependencies } = JSON.parse(fs.readFileSync(path.join(pkg, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const entries = c.appBuild.emitted.filter((f) => /^dist\/functions\/[^/]+\.js$/.test(f));
    expect(entries.length).toBeGreaterThan(0);
    const missing: string[] = [];
    const bare = new Set<string>();
    const seen = new Set<string>();
    const queue = [...entries];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = fs.readFileSync(path.join(pkg, file), 'utf8');
      for (const m of text.matchAll(/\b(?:require|import)\(\s*["'`]([^"'`]+)["'`]\s*\)/g)) {
        const spec = m[1];
        if (!spec.startsWith('.')) {
          if (!spec.startsWith('node:')) bare.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]);
          continue;
        }
        const base = path.posix.normalize(path.posix.join(path.posix.dirname(file), spec));
        const found = [base, `${base}.js`, `${base}.json`, `${base}/index.js`].find((p) => emitted.has(p) || c.files.includes(p));
        if (found) queue.push(found);
        else missing.push(`${file} -> ${spec}`);
      }
    }
    expect(missing).toEqual([]);
    // Node's own modules required without the node: prefix are not packages.
    const builtins = new Set(builtinModules);
    expect([...bare].filter((b) => !builtins.has(b) && !(b in dependencies))).toEqual([]);
    expect(seen.size).toBeGreaterThan(entries.length);
  });
});
