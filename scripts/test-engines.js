'use strict';
// npm run test:engines: the library's suites (test/session, test/store, test/cache and the harness's own
// checks) once per Redis engine named in REDIS_ENGINES, a list of folders separated by ':' or ','. Each
// folder holds a `redis-server` (or `valkey-server`) binary and its CLI; the run puts a folder of its own
// first on PATH in which `redis-server` and `redis-cli` point at that engine, so every server the harness
// starts (standalone, replicas, Sentinel, Cluster, TLS) runs on it.
//
//   REDIS_ENGINES=/opt/redis-7.4.1:/opt/valkey-8.0.1 npm run test:engines
//
// With no REDIS_ENGINES it says so and exits 0: the engine in the PATH already ran under `npm test`.
// Extra arguments go to jest (`npm run test:engines -- test/cache`).

const { spawnSync } = require('node:child_process');
const { existsSync, mkdtempSync, rmSync, statSync, symlinkSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { delimiter, join, resolve } = require('node:path');

const ROOT = join(__dirname, '..');
const SUITES = ['test/support/harness', 'test/session/', 'test/store/', 'test/cache/'];

/** The first runnable file among `names` in `folder`; a name that is a plain file (a copied symlink) is skipped. */
function executableIn(folder, names) {
  for (const name of names) {
    const path = join(folder, name);
    if (!existsSync(path) || !statSync(path).isFile()) continue;
    const probe = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 5_000 });
    if (!probe.error && probe.status === 0) return { path, version: probe.stdout.trim() };
  }
  return undefined;
}

/** "Valkey server v=8.0.1 sha=…" or "Redis server v=7.4.1 sha=…" → "valkey 8.0.1" / "redis 7.4.1". */
function engineName(versionLine) {
  const match = /^(\w+) server v=(\S+)/.exec(versionLine);
  if (!match) throw new Error(`Cannot read the engine and version from "${versionLine}"`);
  return `${match[1].toLowerCase()} ${match[2]}`;
}

/** A folder with `redis-server` and `redis-cli` pointing at the engine's binaries, whatever they are called. */
function linkFolder(folder) {
  const server = executableIn(folder, ['redis-server', 'valkey-server']);
  if (!server) throw new Error(`REDIS_ENGINES: ${folder} holds no runnable redis-server or valkey-server`);
  const cli = executableIn(folder, ['redis-cli', 'valkey-cli']);
  if (!cli) throw new Error(`REDIS_ENGINES: ${folder} holds no runnable redis-cli or valkey-cli`);
  const links = mkdtempSync(join(tmpdir(), 'redis-engine-'));
  symlinkSync(server.path, join(links, 'redis-server'));
  symlinkSync(cli.path, join(links, 'redis-cli'));
  return { links, engine: engineName(server.version) };
}

function main() {
  const folders = (process.env.REDIS_ENGINES ?? '')
    .split(/[:,]/)
    .map((folder) => folder.trim())
    .filter(Boolean)
    .map((folder) => resolve(folder));
  if (folders.length === 0) {
    console.log('test:engines: no engine folders given (set REDIS_ENGINES=dir[:dir…]); skipped.');
    return 0;
  }

  const results = [];
  for (const folder of folders) {
    const { links, engine } = linkFolder(folder);
    console.log(`\ntest:engines: the library's suites on ${engine} (${folder})\n`);
    const started = Date.now();
    const run = spawnSync('npx', ['jest', ...SUITES, ...process.argv.slice(2), '--selectProjects=e2e'], {
      cwd: ROOT,
      stdio: 'inherit',
      // TEST_REDIS_ENGINE lets the harness check that the servers it starts are this engine.
      env: { ...process.env, PATH: `${links}${delimiter}${process.env.PATH}`, TEST_REDIS_ENGINE: engine },
    });
    rmSync(links, { recursive: true, force: true });
    results.push({ engine, passed: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) });
  }

  console.log('\ntest:engines:');
  for (const { engine, passed, seconds } of results) console.log(`  ${engine}: ${passed ? 'passed' : 'FAILED'} (${seconds} s)`);
  return results.every((result) => result.passed) ? 0 : 1;
}

process.exitCode = main();
