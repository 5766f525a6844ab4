import { createHash } from 'node:crypto';

// Mutation testing of the library (npm run test:mutation; docs/mutation.md holds the last results).
// The tests start real Redis servers: few runners at once, and time to spare per mutant.

/** The library folders whose mutants the suite must kill (issue 23). */
const FOLDERS = ['request', 'store', 'users', 'csrf', 'service', 'cache'];

/**
 * `MUTATE=csrf,users npm run test:mutation` mutates those folders only, with an incremental file and
 * reports of their own (reports/mutation/mutation-csrf-users.json), so parts can run one after the
 * other or side by side; scripts/mutation-summary.js reads every report there. An entry may also
 * name one file of a folder, with a range of lines (`service/session.service.ts:150-170`), to
 * check the mutants of one change quickly.
 */
const chosen = process.env.MUTATE ? process.env.MUTATE.split(',').map((entry) => entry.trim()) : FOLDERS;
for (const entry of chosen) {
  if (!FOLDERS.includes(entry.split('/')[0]) || (entry.includes('/') && !/^\w+\/[\w.-]+\.ts(:\d+-\d+)?$/.test(entry))) {
    throw new Error(`MUTATE names "${entry}": give folders among ${FOLDERS.join(', ')}, or folder/file.ts[:first-last line]`);
  }
}
// Unit specs alone (jest.mutation.config.js) give other results: reports and incremental file of their own.
const unitOnly = process.env.MUTATION_TESTS === 'unit';
const scope = unitOnly ? '-unit' : '';
const named = chosen.join('-').replace(/[^\w-]+/g, '_');
// Many files named make a name past the file system's limit (a run of ten lost its JSON report so):
// a long one keeps its start and a digest of the whole, so two different lists never share a report.
const shortened = named.length <= 120 ? named : `${named.slice(0, 100)}-${createHash('sha256').update(named).digest('hex').slice(0, 12)}`;
const part = (process.env.MUTATE ? `-${shortened}` : '') + scope;

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: 'npm',
  testRunner: 'jest',
  jest: { projectType: 'custom', configFile: 'jest.mutation.config.js', enableFindRelatedTests: true },
  checkers: ['typescript'],
  tsconfigFile: 'libs/session/tsconfig.lib.json',
  typescriptChecker: { prioritizePerformanceOverAccuracy: true },
  mutate: [
    ...chosen.map((entry) => `libs/session/src/${entry.includes('/') ? entry : `${entry}/**/*.ts`}`),
    '!libs/session/src/**/*.spec.ts',
    // Types only: nothing to mutate.
    '!libs/session/src/request/http-platform.ts',
    '!libs/session/src/store/store-ports.ts',
  ],
  // The sandbox needs the library, its tests and their harness; not the shop, the benchmark or reports.
  ignorePatterns: ['/apps', '/bench', '/docs', '/reports', '/dist', '/coverage', '/artifacts', '/test/shop'],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: `reports/stryker-incremental${part}.json`,
  concurrency: 2,
  // The unit specs answer in milliseconds: a mutant that hangs one (a response never ended) is judged
  // in 10 s rather than the minute an end-to-end suite may need.
  timeoutMS: unitOnly ? 10_000 : 60_000,
  timeoutFactor: 3,
  dryRunTimeoutMinutes: 30,
  reporters: ['html', 'json', 'progress-append-only', 'clear-text'],
  htmlReporter: { fileName: `reports/mutation/mutation${part}.html` },
  jsonReporter: { fileName: `reports/mutation/mutation${part}.json` },
  // A folder per part: runs of different parts side by side never share (or delete) each other's sandboxes.
  tempDirName: `.stryker-tmp/run${part || '-all'}`,
  cleanTempDir: true,
};
