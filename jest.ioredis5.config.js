/**
 * The library's own tests (unit specs and test/session, test/store, test/cache) on ioredis 5, while the
 * monorepo depends on ioredis 6: `ioredis` resolves to the `ioredis5` alias (npm:ioredis@^5).
 * `npm run test:ioredis5`.
 */
const base = require('./jest.config');

const toIoredis5 = { '^ioredis$': '<rootDir>/node_modules/ioredis5' };
const [unit, e2e] = base.projects;

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  projects: [
    {
      ...unit,
      displayName: 'unit (ioredis 5)',
      testMatch: ['<rootDir>/libs/**/*.spec.ts'],
      moduleNameMapper: { ...unit.moduleNameMapper, ...toIoredis5 },
      globals: { IOREDIS_MAJOR: 5 },
    },
    {
      ...e2e,
      displayName: 'e2e (ioredis 5)',
      testMatch: ['<rootDir>/test/session/**/*.e2e-spec.ts', '<rootDir>/test/store/**/*.e2e-spec.ts', '<rootDir>/test/cache/**/*.e2e-spec.ts'],
      moduleNameMapper: { ...e2e.moduleNameMapper, ...toIoredis5 },
      globals: { IOREDIS_MAJOR: 5 },
    },
  ],
};
