// npm run build:lib: compiles libs/session into dist/libs/session, the folder `npm pack` publishes,
// and copies beside the code what it reads at run time (the Lua scripts, see redis/lua-source.ts) and
// what the package page and the licence need.
const { execFileSync } = require('node:child_process');
const { copyFileSync, cpSync, rmSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const lib = join(root, 'libs/session');
const out = join(root, 'dist/libs/session');

rmSync(out, { recursive: true, force: true }); // no stale file from an earlier layout reaches the tarball
execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', join(lib, 'tsconfig.lib.json')], { stdio: 'inherit' });
cpSync(join(lib, 'src/redis/lua'), join(out, 'redis/lua'), { recursive: true, filter: (path) => !/\.\w+$/.test(path) || path.endsWith('.lua') });
for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md']) copyFileSync(join(lib, file), join(out, file));
console.log(`Built ${out}`);
