// ESLint flat config: typescript-eslint with type information for the TypeScript sources, an
// import-cycle check across the whole graph, and Prettier owning layout (eslint-config-prettier
// turns off every rule that would fight it). `npm run lint`.
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'node_modules/',
      'dist/',
      'coverage/',
      'artifacts/',
      'docs/',
      'test/readme/.generated/',
      // Mutation testing: its reports and the sandbox copies Stryker works in.
      'reports/',
      '.stryker-tmp/',
      // Sources of the throwaway apps npm run test:package compiles (strict tsc, against the packed library).
      'scripts/test-package/app/',
    ],
  },
  {
    // A disable comment that no longer silences anything is an error: it only misleads.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
  },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  importX.flatConfigs.recommended,
  importX.flatConfigs.typescript,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
      globals: globals.node,
    },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: 'tsconfig.json' })],
    },
    rules: {
      // A promise nobody awaits loses its rejection: in a request that is a lost save or a silent 500.
      '@typescript-eslint/no-floating-promises': 'error',
      // A rejection must be an Error, never a string or a literal; passing on the unknown a callback or a
      // catch received is allowed, as only-throw-error allows rethrowing it (wrapping would change it).
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true }],
      // Cycles make module initialisation order-dependent (a class undefined at decoration time).
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      // The TypeScript compiler already checks that imported names exist.
      'import-x/named': 'off',
      'import-x/no-unresolved': 'off',
    },
  },
  {
    // express-session's Store declares its methods as returning void; this store also returns a promise
    // on purpose (callback or await, see its JSDoc), so only the inherited-method check is off, only here.
    files: ['libs/session/src/store/redis-session-store.ts'],
    rules: { '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { inheritedMethods: false } }] },
  },
  {
    // What `nest-redis-session/store` loads (libs/session/src/store.ts) runs in apps without Nest or
    // Express: a Nest import there, even type-only (it would name Nest in the published declarations),
    // breaks `require('nest-redis-session/store')`; express-session is the store's only peer.
    files: [
      'libs/session/src/store.ts',
      'libs/session/src/store/**/*.ts',
      'libs/session/src/redis/**/*.ts',
      'libs/session/src/options/**/*.ts',
      'libs/session/src/errors/**/*.ts',
      'libs/session/src/cookie/**/*.ts',
      'libs/session/src/session-data.ts',
      'libs/session/src/session.constants.ts',
    ],
    // The module's own options name Nest's route type; the store's graph never reaches them (scripts/check-imports.js checks it).
    ignores: ['**/*.spec.ts', 'libs/session/src/errors/to-http-exception.ts', 'libs/session/src/options/session-options.interface.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [{ group: ['@nestjs/*'], message: 'The store entry point (nest-redis-session/store) must load without Nest.' }],
          paths: [{ name: 'express', allowTypeImports: true, message: 'The store entry point must load without Express: express-session is its peer.' }],
        },
      ],
    },
  },
  {
    // Plain JavaScript (scripts, Jest configs and transforms): CommonJS, outside the TypeScript project.
    files: ['**/*.js', '**/*.cjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    files: ['**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    // typescript-eslint documents its default export's members (tseslint.configs) as the way in.
    rules: { 'import-x/no-named-as-default-member': 'off' },
  },
  {
    // Tests and the benchmark read JSON bodies and mocks typed `any`, and pass methods to expect().
    files: ['test/**/*.ts', 'bench/**/*.ts', '**/*.spec.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/unbound-method': 'off',
    },
  },
  {
    // The shop's page runs in the browser.
    files: ['apps/shop/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: globals.browser },
  },
  prettier,
);
