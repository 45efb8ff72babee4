// Typed lint (typescript-eslint): a forgotten `await` on a guard is a crash, not a style nit.
// `npm run lint` and .ci/run run it; zero findings is the bar.
'use strict';
const tseslint = require('typescript-eslint');

/** node:test's `test()`/`describe()` return promises the runner itself awaits. */
const nodeTest = { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] };

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'public/**', 'data/**', 'test-artifacts/**', 'web/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: __dirname } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // The promise rules are the point: a promise nobody awaits or handles is a crash waiting.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [nodeTest] }],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/promise-function-async': 'off',
      // Ports are async by contract; an adapter that happens not to await still returns a promise.
      '@typescript-eslint/require-await': 'off',
      // Deliberate lazy require() of optional native modules (rtc-node, the bench's peers).
      '@typescript-eslint/no-require-imports': 'off',
      // String(x) of database values and error fields typed unknown is the intent, not an accident.
      '@typescript-eslint/no-base-to-string': 'off',
      // Rejecting with the error that was caught (unknown) passes it on unchanged.
      '@typescript-eslint/prefer-promise-reject-errors': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Tests and benchmarks read untyped JSON responses (GraphQL over HTTP, webhooks' bodies) all day:
    // the unsafe-any family would only add casts there. The promise rules still apply.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'src/domain/shared/spec.ts', 'src/**/*.spec.ts', 'src/**/*.int.ts', 'src/**/*.e2e.ts', 'src/**/contract.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
