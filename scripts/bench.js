#!/usr/bin/env node
// `npm run bench [-- --quick]`: runs the TypeScript benchmark in bench/ through ts-node (transpile
// only, so type errors are `npm run typecheck`'s business) with the monorepo's path aliases. The
// child processes it starts (apps, load) register the same way.
const { join } = require('node:path');

const root = join(__dirname, '..');
process.chdir(root);
process.env.TS_NODE_TRANSPILE_ONLY = 'true';
process.env.TS_NODE_PROJECT = join(root, 'tsconfig.json');
require('ts-node/register/transpile-only');
require('tsconfig-paths/register');

require('../bench/main.ts')
  .main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
