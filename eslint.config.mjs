// Lint: typescript-eslint's type-checked recommended rules, and the dependency direction of the tree
// (docs/architecture.md): functions/ and training/ build on shared/; tools/ may use anything; shared/ never
// imports an entry point, training code or a dev tool, so the Function App never loads them.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const outsideShared = (from) => ({
  patterns: [
    {
      group: ['**/functions/*', '**/training/*', '**/tools/*', '**/test/*'],
      message: `${from} must not import entry points (functions/), training code (training/), dev tools (tools/) or tests.`,
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', '.azurite/', 'models/', 'test/fixtures/hostProject/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // A handler keeps the host's full signature; `_name` marks what it does not use. Rest siblings drop a key.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // `async` without `await` is kept on purpose where an interface promises a Promise: a throw then rejects
      // instead of escaping synchronously from a function callers treat as asynchronous.
      '@typescript-eslint/require-await': 'off',
      // A timer or handle assigned once, after the closures that clear it are built.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
    },
  },
  { files: ['shared/**/*.ts'], rules: { 'no-restricted-imports': ['error', outsideShared('shared/')] } },
  {
    files: ['functions/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/training/*', '**/tools/*', '**/test/*'], message: 'functions/ are entry points over shared/ only.' }] },
      ],
    },
  },
  {
    files: ['training/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/functions/*', '**/tools/*', '**/test/*'], message: 'training/ builds on shared/ only.' }] },
      ],
    },
  },
  {
    // Tests take apart JSON answers and recorded payloads whose shape is the thing under test; typing each one
    // would restate the assertions. The app's own code gets no such leeway.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  {
    // jest.config.js and test/setup/summaryReporter.js are CommonJS scripts Node runs (package.json has no "type":
    // "module"): `commonjs` gives require/module/exports; the rest are the Node globals they may use.
    files: ['**/*.js'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', __dirname: 'readonly', __filename: 'readonly' },
    },
  },
);
