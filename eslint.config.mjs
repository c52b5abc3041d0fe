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
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
);
