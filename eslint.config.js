// The lint step of `npm test` (scripts/lint.mjs): rules that find real defects, with the type information of the
// TypeScript project (a promise nobody awaits, handles or voids; a promise where a value or a void callback was
// meant). No stylistic rules: formatting is not this step's business.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'compose/**', 'docs/**', '**/*.d.mts', 'test/contract/fixtures/**/*.js'],
  },
  {
    files: ['**/*.ts', 'web/**/*.js'],
    ignores: ['**/*.d.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: ['./tsconfig.json', './web/tsconfig.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // A rejected promise nobody handles crashes the process (or vanishes in the browser): await it, catch it, or
      // `void` it with a comment saying why its outcome does not matter.
      '@typescript-eslint/no-floating-promises': ['error', { ignoreVoid: true }],
      // An async function where a plain callback is expected: its rejection is dropped by the caller.
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      'no-fallthrough': 'error',
      'no-unreachable': 'error',
      'no-self-assign': 'error',
      'no-dupe-keys': 'error',
      'no-dupe-else-if': 'error',
      'no-duplicate-case': 'error',
      'no-cond-assign': ['error', 'except-parens'],
      'no-constant-binary-expression': 'error',
      'no-unsafe-finally': 'error',
      'use-isnan': 'error',
      'valid-typeof': 'error',
    },
  },
);
