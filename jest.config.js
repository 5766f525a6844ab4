/** @type {import('ts-jest').TsJestTransformerOptions} */
const tsJest = {
  // Transpile each file on its own: type errors are `npm run typecheck`'s job, not the test run's.
  tsconfig: { isolatedModules: true },
};

/**
 * Packages published as ES modules only (Nest 12; under Fastify, the path-to-regexp 9 of @fastify/middie
 * and the content-disposition of @fastify/static; mercurius's quick-lru): Jest runs them transpiled to
 * CommonJS. mercurius itself is CommonJS but loads quick-lru with `import()`, which Jest's module
 * system refuses without --experimental-vm-modules: transpiled, it becomes a `require`.
 */
const esmPackages = ['@nestjs', 'path-to-regexp', 'content-disposition', 'mercurius', 'quick-lru'];

const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', tsJest],
    [`/node_modules/(${esmPackages.join('|')})/.+\\.js$`]: '<rootDir>/test/support/esm-to-commonjs.js',
  },
  // Ignored unless the file is in one of them, nested ones included (`…/node_modules/x/node_modules/path-to-regexp/`).
  transformIgnorePatterns: [`/node_modules/(?!(${esmPackages.join('|')})/)(?!.*/node_modules/(${esmPackages.join('|')})/)`],
  moduleFileExtensions: ['ts', 'js', 'json'],
  // The built package (npm run build:lib) holds a second package.json of the same name, and so does the
  // copy of the checkout a Stryker run works in while it runs (npm run test:mutation).
  modulePathIgnorePatterns: ['<rootDir>/dist/', '<rootDir>/.stryker-tmp/'],
  // The library by its source: `@app/session` in the tests, `nest-redis-session` (its package name) in the shop.
  moduleNameMapper: { '^(?:@app/session|nest-redis-session)(|/.*)$': '<rootDir>/libs/session/src$1' },
  // The ioredis major the run loads; jest.ioredis5.config.js maps `ioredis` to ioredis 5 and says 5.
  globals: { IOREDIS_MAJOR: 6 },
};

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 2,
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/libs/**/*.spec.ts', '<rootDir>/apps/**/*.spec.ts'],
    },
    {
      ...shared,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/e2e-timeout.ts'],
    },
  ],
};
