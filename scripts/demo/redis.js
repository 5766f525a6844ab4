'use strict';
// Finds a Redis for the demo: REDIS_URL if set, else a throwaway one (a container when a Docker
// engine answers, else a redis-server process). Whatever this starts, `stop()` removes.

const { spawn, spawnSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { freePort } = require('./ports');
const { answersPing, waitUntil } = require('./wait');

const IMAGE = 'redis:7-alpine';
const DOCKER_PROBE_MS = 3_000; // a machine without a Docker engine must not wait longer than this

/**
 * @param {(line: string) => void} say progress messages
 * @returns {Promise<{ url: string, description: string, stop(): Promise<void> }>}
 */
async function startDemoRedis(say) {
  if (process.env.REDIS_URL) {
    return { url: process.env.REDIS_URL, description: `your Redis from REDIS_URL (${redact(process.env.REDIS_URL)})`, stop: async () => {} };
  }
  say('Looking for a Docker engine (3 s at most)…');
  if (await dockerAnswers()) {
    say(`Starting a ${IMAGE} container with testcontainers (the first run pulls the image)…`);
    return startContainer();
  }
  if (redisServerRuns()) {
    say('No Docker engine answered; starting redis-server from PATH in a temporary folder…');
    return startRedisServer();
  }
  throw new Error(
    'No Redis for the demo. Do one of: set REDIS_URL=redis://host:port; start a Docker engine; ' +
      'or install redis-server (e.g. apt-get install redis-server, brew install redis).',
  );
}

async function dockerAnswers() {
  let timer;
  const gaveUp = new Promise((resolve) => (timer = setTimeout(() => resolve(false), DOCKER_PROBE_MS)));
  const asked = import('testcontainers')
    .then(({ getContainerRuntimeClient }) => getContainerRuntimeClient())
    .then(
      () => true,
      () => false,
    );
  try {
    return await Promise.race([asked, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

async function startContainer() {
  const { RedisContainer } = await import('@testcontainers/redis');
  const container = await new RedisContainer(IMAGE).start();
  return {
    url: container.getConnectionUrl(),
    description: `a ${IMAGE} container (${container.getId().slice(0, 12)}), removed on exit`,
    stop: () => container.stop().then(() => undefined),
  };
}

function redisServerRuns() {
  const result = spawnSync('redis-server', ['--version'], { encoding: 'utf8', timeout: 5_000 });
  return !result.error && result.status === 0;
}

async function startRedisServer() {
  const dir = mkdtempSync(join(tmpdir(), 'shop-demo-redis-'));
  const port = await freePort();
  // No persistence: the demo's sessions are throwaway, and the folder is deleted on exit.
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitUntil(`redis-server on port ${port} to answer PING`, () => answersPing('127.0.0.1', port), 10_000);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: `redis://127.0.0.1:${port}`, description: `redis-server on port ${port} (pid ${child.pid}), stopped on exit`, stop };
}

/** The URL without its password, for printing. */
function redact(url) {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(unparsable URL)';
  }
}

module.exports = { startDemoRedis };
