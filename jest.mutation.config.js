/**
 * The tests Stryker runs (stryker.config.mjs): the library's unit specs and the suites that exercise
 * it end to end on a real Redis (test/session, test/store, test/cache), as one jest project with the
 * settings of jest.config.js. One project, because Stryker's jest runner wraps the test environment
 * of the config it is given to record which test covers which mutant, and does not reach into
 * `projects`.
 */
const base = require('./jest.config.js');

const e2e = base.projects.find((project) => project.displayName === 'e2e');
const { displayName: _name, ...shared } = e2e;

/** @type {import('jest').Config} */
module.exports = {
  ...shared,
  testMatch: [
    '<rootDir>/libs/session/src/**/*.spec.ts',
    '<rootDir>/test/session/**/*.e2e-spec.ts',
    '<rootDir>/test/store/**/*.e2e-spec.ts',
    '<rootDir>/test/cache/**/*.e2e-spec.ts',
  ],
};
