'use strict';
// The visit the matrix runs against each app: two replicas of it on one Redis, one visitor whose
// requests alternate between them, as behind a round-robin load balancer.

const { spawn } = require('node:child_process');
const assert = require('node:assert/strict');
const { join } = require('node:path');
const { freePort } = require('../demo/ports');
const { answers200, waitUntil } = require('../demo/wait');

const SECRET = 'matrix-secret-of-at-least-32-characters';

async function runScenario(appDir, redisUrl) {
  const replicas = [];
  try {
    for (const name of ['a', 'b']) replicas.push(await startReplica(appDir, name, redisUrl));
    const [a, b] = replicas;
    const visitor = new Visitor();

    assert.deepEqual((await visitor.send(a, 'POST', '/cart', { sku: 'tea' })).body, ['tea'], 'add to the cart on replica a');
    assert.ok(visitor.cookie, 'the first write set a session cookie');
    assert.deepEqual((await visitor.send(b, 'GET', '/cart')).body, ['tea'], 'the cart read on replica b');

    const anonymousCookie = visitor.cookie;
    assert.deepEqual((await visitor.send(b, 'POST', '/account/login', { userId: 'alice' })).body, { user: 'alice' }, 'login on b');
    assert.notEqual(visitor.cookie, anonymousCookie, 'login gave the session a new ID');
    assert.deepEqual((await visitor.send(a, 'GET', '/account/me')).body, { user: 'alice', name: 'ALICE' }, 'logged in on a');
    assert.deepEqual((await visitor.send(b, 'GET', '/account/roles')).body, ['customer'], "the user's typed fields read back on b");
    assert.deepEqual((await visitor.send(a, 'GET', '/cart')).body, ['tea'], 'the cart survived the login');

    const sessions = (await visitor.send(a, 'GET', '/account/sessions')).body;
    assert.equal(sessions.length, 1, 'alice has one session');
    assert.equal(sessions[0].current, true, 'listed as the current one');

    const loggedInCookie = visitor.cookie;
    await visitor.send(b, 'POST', '/account/logout');
    const old = new Visitor(loggedInCookie);
    for (const replica of [a, b]) {
      assert.deepEqual((await old.send(replica, 'GET', '/account/me')).body, { user: null, name: null }, `the old cookie is anonymous on ${replica.name}`);
      assert.deepEqual((await old.send(replica, 'GET', '/cart')).body, [], `the old cookie has no cart on ${replica.name}`);
    }
    assert.deepEqual((await new Visitor(anonymousCookie).send(a, 'GET', '/account/me')).body, { user: null, name: null }, 'the pre-login cookie is dead too');
  } finally {
    await Promise.all(replicas.map((replica) => replica.stop()));
  }
}

/** Starts `entry` of the built app as replica `name`; ready when GET `readyPath` answers 200. */
async function startReplica(appDir, name, redisUrl, { entry = 'dist/main.js', readyPath = '/cart' } = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [join(appDir, entry)], {
    cwd: appDir,
    env: { ...process.env, PORT: String(port), REDIS_URL: redisUrl, SESSION_SECRET: SECRET, NODE_ENV: 'production' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil(
      `replica ${name} to answer GET ${readyPath}`,
      async () => {
        if (child.exitCode !== null) throw new Error(`replica ${name} exited (${child.exitCode}):\n${output}`);
        return answers200(`${url}${readyPath}`);
      },
      30_000,
    );
  } catch (error) {
    await stop();
    throw new Error(`${error.message}\n${output}`, { cause: error });
  }
  return { name, url, stop };
}

/** A browser's worth of cookie handling: one session cookie, replaced whenever a response sets it. */
class Visitor {
  constructor(cookie) {
    this.cookie = cookie;
  }

  /** Sends a request; throws on an error status, naming it. */
  async send(replica, method, path, body) {
    const { status, body: answer, text } = await this.request(replica, method, path, body);
    if (status >= 400) throw new Error(`${method} ${path} on replica ${replica.name} answered ${status}: ${text}`);
    return { status, body: answer };
  }

  /** Sends a request; answers its status and JSON body, whatever the status. */
  async request(replica, method, path, body) {
    const headers = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.cookie) headers.cookie = this.cookie;
    const res = await fetch(replica.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0];
      if (pair.startsWith('sid=')) this.cookie = /Expires=Thu, 01 Jan 1970/i.test(line) || pair === 'sid=' ? undefined : pair;
    }
    // An error page may not be JSON: its text still shows in the failure.
    const json = res.headers.get('content-type')?.includes('json');
    return { status: res.status, body: text && json ? JSON.parse(text) : undefined, text };
  }
}

module.exports = { runScenario, startReplica, Visitor };
