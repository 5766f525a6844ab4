/*
 * The test environment of the mutation run (jest.mutation.config.js): jest's node environment that
 * also records which test file holds each test, by the name Stryker gives the test (its describe
 * blocks and its own name, joined by spaces). filter.js reads it to load, for each mutant, only the
 * files of the tests that cover it. Jest loads environments in its own process, so the record is
 * kept on that process's global object, beside a reference to Stryker's shared context.
 */
const { TestEnvironment } = require('jest-environment-node');

const testFiles = (globalThis.__mutationTestFiles ??= {});

function fullName(block) {
  return block.parent ? `${fullName(block.parent)} ${block.name}`.trimStart() : '';
}

class MutationTestEnvironment extends TestEnvironment {
  constructor(config, context) {
    super(config, context);
    this.testPath = context.testPath;
  }

  async handleTestEvent(event) {
    if (event.name === 'test_start') {
      testFiles[`${fullName(event.test.parent)} ${event.test.name}`.trimStart()] = this.testPath;
      // Stryker's context, shared with the test files as the global `__stryker__`.
      // Set in the initial run only, where Stryker wraps this environment; mutant runs have their own.
      if (this.global.__stryker__) globalThis.__mutationStryker ??= this.global.__stryker__;
    }
  }
}

module.exports = MutationTestEnvironment;
