/**
 * The tests Stryker runs (stryker.config.mjs): the library's unit specs and the suites that exercise
 * it end to end on a real Redis (test/session, test/store, test/cache), as one jest project with the
 * settings of jest.config.js. One project, because Stryker's jest runner wraps the test environment
 * of the config it is given to record which test covers which mutant, and does not reach into
 * `projects`.
 */
const { join } = require('node:path');
const base = require('./jest.config.js');

const e2e = base.projects.find((project) => project.displayName === 'e2e');
const { displayName: _name, ...shared } = e2e;

/*
 * MUTATION_TESTS=unit keeps the unit specs alone: the files every request runs through (the save, the
 * read) are covered by nearly every end-to-end test, so each of their mutants would run almost the
 * whole suite, hours per file here. Unit specs run a mutant in about a second; what they let live is a
 * lower bound of what the whole suite kills, and each such survivor is checked against it by hand.
 */
const unitOnly = process.env.MUTATION_TESTS === 'unit';
if (process.env.MUTATION_TESTS !== undefined && !unitOnly) {
  throw new Error(`MUTATION_TESTS is "${process.env.MUTATION_TESTS}": leave it unset for every suite, or set it to "unit"`);
}
const unitSpecs = ['<rootDir>/libs/session/src/**/*.spec.ts'];
const e2eSuites = ['<rootDir>/test/session/**/*.e2e-spec.ts', '<rootDir>/test/store/**/*.e2e-spec.ts', '<rootDir>/test/cache/**/*.e2e-spec.ts'];

/** @type {import('jest').Config} */
module.exports = {
  ...shared,
  testMatch: unitOnly ? unitSpecs : [...unitSpecs, ...e2eSuites],
  /*
   * Left out: the suites that fail over, migrate slots or start Sentinel and Cluster topologies
   * (minutes each, for every mutant they cover), the features together on every topology, and the burst of 500 updates over three apps, which
   * Stryker's coverage instrumentation on a loaded 2-core machine slows past redisDeadline. The
   * same guarantees are checked on a standalone Redis by the suites that stay.
   */
  // Per mutant, only the test files that hold a test covering it (see test/support/mutation/filter.js).
  testEnvironment: join(__dirname, 'test/support/mutation/environment.js'),
  filter: join(__dirname, 'test/support/mutation/filter.js'),
  testPathIgnorePatterns: [
    '/node_modules/',
    '/test/session/(cluster-failover|events-sentinel|features-together|topologies|parallel-updates)\\.e2e-spec\\.ts$',
    '/test/store/topologies\\.e2e-spec\\.ts$',
    '/test/cache/near-cache-(failover|slot-migration)\\.e2e-spec\\.ts$',
  ],
};
