/*
 * Jest's test-file filter in the mutation run (jest.mutation.config.js). Stryker selects the tests
 * that cover a mutant by name, but jest would still load every related test file to skip the rest,
 * at about a second each: this keeps only the files that hold a covering test. The coverage is the
 * one Stryker recorded per test in its initial run, copied at the first mutant (later runs add to
 * it); the files come from environment.js. Whenever something is unknown (no active mutant, a
 * mutant covered outside any test, a test without a known file), every file is kept.
 */
let coverage;

module.exports = async function keepCoveringFiles(testPaths) {
  const all = { filtered: testPaths.map((test) => ({ test })) };
  const active = process.env.__STRYKER_ACTIVE_MUTANT__;
  const context = globalThis.__mutationStryker;
  const files = globalThis.__mutationTestFiles;
  if (active === undefined || !context?.mutantCoverage || !files) return all;
  coverage ??= JSON.parse(JSON.stringify(context.mutantCoverage));
  if (coverage.static?.[active]) return all;
  const wanted = new Set();
  for (const [testId, mutants] of Object.entries(coverage.perTest ?? {})) {
    if (!mutants[active]) continue;
    if (!files[testId]) return all;
    wanted.add(files[testId]);
  }
  if (wanted.size === 0) return all;
  const kept = testPaths.filter((path) => wanted.has(path));
  return kept.length === 0 ? all : { filtered: kept.map((test) => ({ test })) };
};
