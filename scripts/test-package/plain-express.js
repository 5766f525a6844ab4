'use strict';
// The store without Nest, as the library README promises it: the packed library installed into a
// plain Express app that pins its own express-session (1.17, so npm nests the library's copy beside
// it) and has no Nest at all. The app (app/plain-express/) is compiled with strict TypeScript under
// each module resolution a user may have, then run twice on one Redis: a session saved on one replica
// reads back on the other, and a save the store refuses answers an error status, storing nothing.

const assert = require('node:assert/strict');
const { copyFileSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { Visitor, startReplica } = require('./scenario');

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
const NAME = 'Express 4 + express-session 1.17 + ioredis 5, no Nest (nest-redis-session/store)';
const MANIFEST = {
  name: 'nest-redis-session-plain-express-app',
  private: true,
  dependencies: { express: '^4', 'express-session': '~1.17.3', ioredis: '^5' },
  devDependencies: { typescript: '~5.9.3', '@types/node': '^20.17.0', '@types/express': '^4' },
};
/** How TypeScript may resolve `nest-redis-session/store`: without "exports" (node10), and with it. */
const RESOLUTIONS = [
  { moduleResolution: 'node10', module: 'commonjs' },
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'bundler', module: 'preserve' },
];

/** Writes the app and installs it with the tarball, as a user's plain `npm install` would. */
async function preparePlainApp(dir, tarball, run) {
  mkdirSync(join(dir, 'src'), { recursive: true });
  const manifest = { ...MANIFEST, dependencies: { ...MANIFEST.dependencies, 'nest-redis-session': `file:${tarball}` } };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
  copyFileSync(join(__dirname, 'app/plain-express/server.ts'), join(dir, 'src/server.ts'));
  copyFileSync(join(__dirname, 'app/plain-express/tsconfig.json'), join(dir, 'tsconfig.json'));
  for (const { moduleResolution, module } of RESOLUTIONS) {
    const config = { extends: './tsconfig.json', compilerOptions: { module, moduleResolution, noEmit: true } };
    writeFileSync(join(dir, `tsconfig.${moduleResolution}.json`), JSON.stringify(config, null, 2));
  }
  await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel', 'error'], { cwd: dir });
}

/** Checks what npm installed, compiles the app under every resolution, runs the visit. */
async function testPlainApp(dir, redisUrl, run) {
  const t = Date.now();
  try {
    const versions = checkInstall(dir);
    for (const { moduleResolution } of RESOLUTIONS) {
      await run(join(dir, 'node_modules/.bin/tsc'), ['-p', `tsconfig.${moduleResolution}.json`], { cwd: dir });
    }
    await run(join(dir, 'node_modules/.bin/tsc'), ['-p', 'tsconfig.json'], { cwd: dir });
    await runPlainScenario(dir, redisUrl);
    const line = `PASS ${NAME} (express-session ${versions.app} beside the library's ${versions.library}) in ${((Date.now() - t) / 1000).toFixed(1)} s`;
    return { app: { name: NAME, dir }, ok: true, line };
  } catch (error) {
    return { app: { name: NAME, dir }, ok: false, line: `FAIL ${NAME}: ${error instanceof Error ? error.message : String(error)}` };
  }
}

/** No Nest anywhere, and two copies of express-session: the app's 1.17 and the library's own. */
function checkInstall(dir) {
  for (const name of ['@nestjs/common', '@nestjs/core', 'rxjs']) {
    assert.throws(() => require.resolve(`${name}/package.json`, { paths: [dir] }), `${name} must not be installed: the store needs no Nest`);
  }
  const versionAt = (path) => JSON.parse(readFileSync(path, 'utf8')).version;
  const app = versionAt(require.resolve('express-session/package.json', { paths: [dir] }));
  const library = versionAt(require.resolve('express-session/package.json', { paths: [join(dir, 'node_modules/nest-redis-session')] }));
  assert.match(app, /^1\.17\./, 'the app pinned express-session 1.17');
  // Two copies is the case under test: sessions built by one copy's classes, checked by the other's.
  assert.notEqual(library, app, "npm nested the library's own express-session copy");
  return { app, library };
}

async function runPlainScenario(dir, redisUrl) {
  const replicas = [];
  try {
    for (const name of ['a', 'b']) replicas.push(await startReplica(dir, name, redisUrl, { entry: 'dist/server.js', readyPath: '/visits' }));
    const [a, b] = replicas;
    const visitor = new Visitor();

    assert.deepEqual((await visitor.send(a, 'POST', '/visits')).body, { views: 1 }, 'first visit on a');
    assert.ok(visitor.cookie, 'the first save set a session cookie');
    assert.deepEqual((await visitor.send(b, 'POST', '/visits')).body, { views: 2 }, 'the session read back on b and saved again');
    assert.deepEqual((await visitor.send(a, 'GET', '/visits')).body, { views: 2, note: null }, 'the second save read back on a');

    // Above maxSessionBytes (1 KiB): refused by the store, through express-session's callback.
    const { status, body } = await visitor.request(b, 'POST', '/note', { note: 'x'.repeat(2_000) });
    assert.deepEqual({ status, body }, { status: 413, body: { error: 'SessionTooLargeError' } }, 'a save the store refuses fails the request');
    assert.deepEqual((await visitor.send(a, 'GET', '/visits')).body, { views: 2, note: null }, 'the refused save stored nothing');
    assert.deepEqual((await visitor.send(a, 'POST', '/note', { note: 'short' })).body, { saved: true }, 'a save within the limit');
    assert.deepEqual((await visitor.send(b, 'GET', '/visits')).body, { views: 2, note: 'short' }, 'and it reads back');
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
}

module.exports = { preparePlainApp, testPlainApp };
