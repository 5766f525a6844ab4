'use strict';
// npm run test:package: the library as a user gets it. Builds and packs it, checks what the tarball
// holds, installs the TARBALL (never the source) from the registry into a throwaway app per supported
// combination, under the system's temporary folder, compiles the library README's quick start there
// with strict TypeScript, starts it twice on one Redis and runs a visit across the two replicas. Each
// Nest major is run on Express and on Fastify (an app without Express, whose main.ts only adds
// `new FastifyAdapter()`). Also installs it into a plain Express app without Nest, for the standalone
// store (plain-express.js).
// Prints one closing line ("N passed, N failed") and exits non-zero on any failure.
// KEEP_APPS=1 leaves the apps on disk for a look.

const { spawn } = require('node:child_process');
const { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { freePort } = require('../demo/ports');
const { answersPing, waitUntil } = require('../demo/wait');
const { checkPackContents } = require('./pack-contents');
const { preparePlainApp, testPlainApp } = require('./plain-express');
const { runScenario } = require('./scenario');

const ROOT = join(__dirname, '../..');
const PACKAGE_DIR = join(ROOT, 'dist/libs/session');
const README = join(ROOT, 'libs/session/README.md');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

/** The supported combinations; each app installs exactly these ranges from the registry. */
const COMBINATIONS = [
  {
    name: 'Nest 10 + Express 4 + ioredis 5',
    dependencies: { '@nestjs/common': '^10', '@nestjs/core': '^10', '@nestjs/platform-express': '^10', ioredis: '^5' },
    devDependencies: { '@types/express': '^4' },
    expect: { nest: 10, express: 4, ioredis: 5 },
  },
  {
    name: 'Nest 11 + Express 5 + ioredis 5',
    dependencies: { '@nestjs/common': '^11', '@nestjs/core': '^11', '@nestjs/platform-express': '^11', ioredis: '^5' },
    devDependencies: { '@types/express': '^5' },
    expect: { nest: 11, express: 5, ioredis: 5 },
  },
  {
    name: 'Nest 12 + Express 5 + ioredis 6',
    dependencies: { '@nestjs/common': '^12', '@nestjs/core': '^12', '@nestjs/platform-express': '^12', ioredis: '^6' },
    // ioredis 6.1's declarations import redis-errors, whose types it lists only as its own dev dependency:
    // a strict compile (skipLibCheck off) needs them, as TypeScript's own message advises.
    devDependencies: { '@types/express': '^5', '@types/redis-errors': '^1.2.1' },
    expect: { nest: 12, express: 5, ioredis: 6 },
  },
  ...[
    { nest: 10, fastify: 4, ioredis: 5 },
    { nest: 11, fastify: 5, ioredis: 5 },
    { nest: 12, fastify: 5, ioredis: 6 },
  ].map((expect) => ({
    name: `Nest ${expect.nest} + Fastify ${expect.fastify} + ioredis ${expect.ioredis}`,
    platform: 'fastify',
    dependencies: {
      '@nestjs/common': `^${expect.nest}`,
      '@nestjs/core': `^${expect.nest}`,
      '@nestjs/platform-fastify': `^${expect.nest}`,
      ioredis: `^${expect.ioredis}`,
    },
    // The quick start's `import type { Request } from 'express'` finds its types through the library's
    // @types/express-session; ioredis 6 needs the redis-errors types as above.
    devDependencies: expect.ioredis === 6 ? { '@types/redis-errors': '^1.2.1' } : {},
    expect,
  })),
];
const COMMON = {
  dependencies: { 'reflect-metadata': '^0.2.2', rxjs: '^7.8.1' },
  devDependencies: { typescript: '~5.9.3', '@types/node': '^20.17.0' },
};

const log = (line) => console.log(`[test:package] ${line}`);

async function main() {
  const started = Date.now();
  const results = [];
  let redis;
  const work = mkdtempSync(join(tmpdir(), 'nest-redis-session-matrix-'));
  try {
    await step('build the library', () => run(npm, ['run', '--silent', 'build:lib'], { cwd: ROOT }));
    // The tarball's file list is `npm pack --dry-run`'s: the same command, writing the file as well.
    const pack = await step('pack it and check what it holds', async () => {
      const { stdout } = await run(npm, ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: PACKAGE_DIR });
      return JSON.parse(stdout)[0];
    });
    const files = checkPackContents(pack, PACKAGE_DIR);
    log(`  ${files.length} files: README.md, LICENSE, CHANGELOG.md, package.json, compiled .js and .d.ts, the Lua scripts`);
    const tarball = join(work, pack.filename);

    const apps = COMBINATIONS.map((combination, i) => ({ ...combination, dir: join(work, `app-${i + 1}`) }));
    const plainDir = join(work, 'app-plain-express');
    // Installs wait on the network: they run side by side.
    // npm's own cache (~/.npm unless configured): the repository's `npm ci` has already filled it with
    // most of what the apps need, and it outlives node_modules between runs.
    const { stdout: cache } = await run(npm, ['config', 'get', 'cache'], { cwd: ROOT });
    await step(`install the tarball into ${apps.length + 1} fresh apps (npm cache: ${cache.trim()})`, () =>
      Promise.all([...apps.map((app) => prepareApp(app, tarball)), preparePlainApp(plainDir, tarball, run)]),
    );
    redis = await startRedis(work);
    log(`Redis: redis-server on port ${redis.port}`);
    // Each app compiles and runs its two replicas alongside the others: tsc is single-threaded, and a
    // visit mostly waits on the network. One Redis database per app keeps their keys apart.
    const outcomes = await Promise.all([
      ...apps.map((app, i) => testApp(app, `redis://127.0.0.1:${redis.port}/${i + 1}`)),
      testPlainApp(plainDir, `redis://127.0.0.1:${redis.port}/${apps.length + 1}`, run),
    ]);
    for (const outcome of outcomes) {
      results.push(outcome);
      log(outcome.line);
      if (!outcome.ok) log(`  app folder: ${outcome.app.dir}${process.env.KEEP_APPS ? '' : ' (deleted at exit; KEEP_APPS=1 keeps it)'}`);
    }
  } catch (error) {
    log(`FAIL before the apps ran: ${error instanceof Error ? error.message : String(error)}`);
    results.push({ app: { name: 'setup' }, ok: false });
  } finally {
    await redis?.stop();
    if (!process.env.KEEP_APPS) rmSync(work, { recursive: true, force: true });
    else log(`apps kept in ${work}`);
  }
  const passed = results.filter((result) => result.ok).length;
  const failed = results.length - passed;
  log(`done in ${seconds(Date.now() - started)}`);
  console.log(`test:package: ${passed} passed, ${failed} failed`);
  process.exitCode = failed === 0 && passed === COMBINATIONS.length + 1 ? 0 : 1;
}

/** Checks the installed majors, compiles the app with strict TypeScript, runs the visit. */
async function testApp(app, redisUrl) {
  const t = Date.now();
  try {
    const versions = installedVersions(app.dir, app.platform);
    checkVersions(app, versions);
    await run(join(app.dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: app.dir });
    await runScenario(app.dir, redisUrl);
    return { app, ok: true, line: `PASS ${app.name} (${describe(versions)}) in ${seconds(Date.now() - t)}` };
  } catch (error) {
    return { app, ok: false, line: `FAIL ${app.name}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

async function step(what, action) {
  const t = Date.now();
  log(`${what}…`);
  const value = await action();
  log(`  done in ${seconds(Date.now() - t)}`);
  return value;
}

/** Writes the app (quick start from the README, the scenario's controller, main.ts) and installs it. */
async function prepareApp(app, tarball) {
  mkdirSync(join(app.dir, 'src'), { recursive: true });
  const manifest = {
    name: 'nest-redis-session-matrix-app',
    private: true,
    dependencies: { ...COMMON.dependencies, ...app.dependencies, 'nest-redis-session': `file:${tarball}` },
    devDependencies: { ...COMMON.devDependencies, ...app.devDependencies },
  };
  writeFileSync(join(app.dir, 'package.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(app.dir, 'src/quick-start.ts'), withAccountController(quickStart()));
  copyFileSync(join(__dirname, 'app', 'account.controller.ts'), join(app.dir, 'src', 'account.controller.ts'));
  copyFileSync(join(__dirname, 'app', app.platform === 'fastify' ? 'main-fastify.ts' : 'main.ts'), join(app.dir, 'src', 'main.ts'));
  copyFileSync(join(__dirname, 'app/tsconfig.json'), join(app.dir, 'tsconfig.json'));
  // A user's plain `npm install`: peer ranges are checked as npm checks them (no --legacy-peer-deps).
  await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'], { cwd: app.dir });
}

/** The quick start exactly as the library README (the package's npm page) shows it. */
function quickStart() {
  const readme = readFileSync(README, 'utf8');
  const block = /<!-- quick-start:begin -->\s*```ts\n([\s\S]*?)```\s*<!-- quick-start:end -->/.exec(readme);
  if (!block) throw new Error(`${README} has no quick-start block between the quick-start markers`);
  return block[1];
}

/** Registers the scenario's controller beside the quick start's own, the one change made to it. */
function withAccountController(source) {
  const registration = 'controllers: [CartController]';
  if (!source.includes(registration)) throw new Error(`the README's quick start no longer has "${registration}"; update scripts/test-package`);
  return `import { AccountController } from './account.controller';\n${source.replace(registration, 'controllers: [CartController, AccountController]')}`;
}

function installedVersions(dir, platform = 'express') {
  const version = (name) => JSON.parse(readFileSync(require.resolve(`${name}/package.json`, { paths: [dir] }), 'utf8')).version;
  // The framework the Nest adapter itself loads.
  const frameworkFrom = require.resolve(`${platform}/package.json`, { paths: [join(dir, `node_modules/@nestjs/platform-${platform}`)] });
  return {
    nest: version('@nestjs/core'),
    [platform]: JSON.parse(readFileSync(frameworkFrom, 'utf8')).version,
    ioredis: version('ioredis'),
    typescript: version('typescript'),
    library: version('nest-redis-session'),
  };
}

function checkVersions(app, versions) {
  // The health indicator ships as a subpath so that only its users need @nestjs/terminus: it must resolve.
  require.resolve('nest-redis-session/health', { paths: [app.dir] });
  for (const [name, major] of Object.entries(app.expect)) {
    if (Number(versions[name].split('.')[0]) !== major) throw new Error(`expected ${name} ${major}.x, installed ${versions[name]}`);
  }
}

function describe(versions) {
  const framework = versions.fastify ? `Fastify ${versions.fastify}` : `Express ${versions.express}`;
  return `Nest ${versions.nest}, ${framework}, ioredis ${versions.ioredis}, TypeScript ${versions.typescript}`;
}

async function startRedis(work) {
  const dir = join(work, 'redis');
  mkdirSync(dir);
  const port = await freePort();
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', () => {}); // a missing binary shows as the PING wait failing, with the hint below
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
  };
  try {
    await waitUntil(`redis-server (from PATH) on port ${port} to answer PING`, () => answersPing('127.0.0.1', port), 10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { port, stop };
}

/** Runs a command; resolves with its output, rejects with the command and the tail of its output. */
function run(command, args, options) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      if (code === 0) return resolve({ stdout, stderr });
      const output = `${stdout}\n${stderr}`.trim().split('\n').slice(-30).join('\n');
      reject(new Error(`${command} ${args.join(' ')} exited with ${code} in ${options.cwd}:\n${output}`));
    });
  });
}

const seconds = (ms) => `${(ms / 1000).toFixed(1)} s`;

void main();
