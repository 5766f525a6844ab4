// The fault suite (`npm run test:faults`): the built shop, three replicas, on each Redis topology,
// under load while Redis fails over, restarts, pauses or stalls. Apart from `npm test`: it builds the
// shop and takes about two minutes.
const base = require('./jest.config.js');
const e2e = base.projects.find((project) => project.displayName === 'e2e');

/** @type {import('jest').Config} */
module.exports = {
  maxWorkers: 1, // one scenario at a time: their timings must not compete for the two cores
  projects: [{ ...e2e, displayName: 'faults', testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'] }],
};
