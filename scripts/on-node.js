'use strict';
// npm run on-node -- <version> <command…>: runs the command with another Node.js first on PATH, so that
// it and everything it starts (npm, jest, the test apps, child processes) run on that version.
//
//   npm run on-node -- 24 npm run test:fastify
//   npm run on-node -- 22.23.5 npx jest test/session
//
// Users run the library on Node 20.19+, 22 and 24; the machine that develops it has one. The binary
// comes from the npm registry (the package node-<platform>-<arch>, what the `node` package installs),
// once per version, into node_modules/.cache/node/<version>. A major picks the version pinned below,
// so that a CI run tests what the last one did.

const { spawnSync } = require('node:child_process');
const { existsSync, mkdirSync } = require('node:fs');
const { delimiter, join } = require('node:path');

const ROOT = join(__dirname, '..');
/**
 * The version each major stands for: for 20, the oldest release the library supports (20.19, the first
 * to load ES modules with `require`, which Nest 12 needs); for 22 and 24, the latest when pinned. Change
 * them with the README's line on what CI runs where.
 */
const PINNED = { 20: '20.19.0', 22: '22.23.5', 24: '24.22.3' };

function fail(message) {
  console.error(`on-node: ${message}`);
  process.exit(2);
}

function resolveVersion(asked) {
  if (/^\d+$/.test(asked))
    return PINNED[asked] ?? fail(`no version pinned for Node ${asked} (pinned: ${Object.keys(PINNED).join(', ')}); give a full version such as 22.23.5`);
  if (/^\d+\.\d+\.\d+$/.test(asked)) return asked;
  return fail(`"${asked}" is not a Node.js major (24) or version (24.22.3)`);
}

/** The folder holding that version's `node`, installed from the registry unless it already is. */
function binFolder(version) {
  if (process.platform !== 'linux' && process.platform !== 'darwin')
    fail(`runs on Linux and macOS only (the registry's node-<platform>-<arch> packages), not ${process.platform}`);
  const pkg = `node-${process.platform}-${process.arch}`;
  const home = join(ROOT, 'node_modules', '.cache', 'node', version);
  const bin = join(home, 'node_modules', pkg, 'bin');
  if (!existsSync(join(bin, 'node'))) {
    mkdirSync(home, { recursive: true });
    console.log(`on-node: installing ${pkg}@${version} from the npm registry`);
    const install = spawnSync('npm', ['install', '--prefix', home, '--no-save', '--no-package-lock', '--no-audit', '--no-fund', `${pkg}@${version}`], {
      stdio: 'inherit',
    });
    if (install.status !== 0) fail(`npm could not install ${pkg}@${version}`);
  }
  const probe = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' });
  if (probe.status !== 0 || probe.stdout.trim() !== `v${version}`) fail(`${bin}/node does not run as v${version}: ${probe.stdout}${probe.stderr}`);
  return bin;
}

function main() {
  const [asked, command, ...args] = process.argv.slice(2);
  if (!asked || !command) fail('usage: npm run on-node -- <major or version> <command…>');
  const version = resolveVersion(asked);
  const bin = binFolder(version);
  console.log(`on-node: ${[command, ...args].join(' ')} on Node ${version}`);
  const run = spawnSync(command, args, { cwd: process.cwd(), stdio: 'inherit', env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` } });
  if (run.error) fail(`${command}: ${run.error.message}`);
  return run.status ?? 1;
}

process.exitCode = main();
