#!/usr/bin/env node
'use strict';
// `npm run demo`: Redis, the shop built and started as three replicas, and a round-robin load balancer
// in front, so you can watch one session being served by every replica. Ctrl-C stops all of it.

const { spawn } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const { join } = require('node:path');
const { startBalancer } = require('./demo/balancer');
const { freePort, preferredOrFreePort } = require('./demo/ports');
const { startDemoRedis } = require('./demo/redis');
const { startReplica } = require('./demo/replica');

const ROOT = join(__dirname, '..');
const MAIN = join(ROOT, 'dist', 'apps', 'shop', 'main.js');
const REPLICAS = 3;
const PREFERRED_PORT = Number(process.env.DEMO_PORT) || 3000;
// The replicas' HTTP platforms, in turn: DEMO_PLATFORMS=express,fastify makes a mixed fleet
// (express, fastify, express), as while a team moves one replica at a time. Express unless set.
const PLATFORMS = (process.env.DEMO_PLATFORMS || 'express').split(',').map((name) => name.trim());

const say = (line) => console.log(`[demo] ${line}`);
const stops = []; // what to undo on exit, newest first

/**
 * Starts a replica on a port found free. Another process can take that port before the replica binds
 * it (tests and other tools pick free ports too), so a replica that failed for that reason is started
 * again on another one, twice at most.
 */
async function startOnFreePort(options) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startReplica({ ...options, port: await freePort() });
    } catch (error) {
      if (attempt === 3 || !String(error.message).includes('EADDRINUSE')) throw error;
      say(`${options.id}: its port was taken before it could listen; trying another`);
    }
  }
}

async function main() {
  installExitHandlers();
  const redis = await startDemoRedis(say);
  stops.unshift(['Redis', redis.stop]);
  say(`Redis: ${redis.description}`);

  await build();

  // One secret and one encryption key for all replicas, new on every run: each replica must verify
  // cookies the others signed and open sessions the others sealed.
  const env = {
    REDIS_URL: redis.url,
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_ENCRYPTION_KEYS: randomBytes(32).toString('base64'),
    NODE_ENV: 'development',
  };
  if (!process.stdout.isTTY) env.NO_COLOR = '1';
  const replicas = [];
  for (let i = 1; i <= REPLICAS; i++) {
    const id = `replica-${i}`;
    say(`Starting ${id}…`);
    // Ctrl-C in a terminal reaches the replicas too (one process group), maybe before it reaches us:
    // wait a moment before calling an exit unexpected.
    const onExit = (how) => setTimeout(() => stopping || say(`${id} stopped unexpectedly (${how}); the balancer answers 502 in its turns`), 500);
    const replicaEnv = { ...env, HTTP_PLATFORM: PLATFORMS[(i - 1) % PLATFORMS.length] };
    const replica = await startOnFreePort({ main: MAIN, id, env: replicaEnv, print: console.log, onExit });
    stops.unshift([id, replica.stop]);
    replicas.push(replica);
    say(`${id} is healthy at ${replica.url} on ${replicaEnv.HTTP_PLATFORM} (pid ${replica.pid})`);
  }

  const balancer = await startBalancer({ targets: replicas.map((r) => r.url), port: await preferredOrFreePort(PREFERRED_PORT) });
  stops.unshift(['load balancer', balancer.close]);

  console.log(`
  The shop is running: open ${balancer.url}

  Every request goes to the next of ${REPLICAS} replicas in turn (round robin, no sticky sessions):
  watch "answered by" on the page change while your cart and login stay.

  Demo users:  alice / wonderland    bob / builder
  Replicas:    ${replicas.map((r) => `${r.id} ${r.url}`).join(', ')}
  Metrics:     ${balancer.url}/metrics (Prometheus text of the replica that answers; each replica at <replica>/metrics)
  Health:      ${balancer.url}/health (readiness, backed by the library's Terminus indicator)
  Operations:  the page's "Operations" panel charts requests, store latency and active sessions per replica
  Redis:       ${redis.description}

  Press Ctrl-C to stop the balancer, the replicas and ${process.env.REDIS_URL ? 'nothing of your Redis' : 'Redis'}.
`);
}

/** `nest build shop`, with its output shown as it comes. */
function build() {
  say('Building the shop (nest build shop)…');
  const started = Date.now();
  const nest = join(ROOT, 'node_modules', '@nestjs', 'cli', 'bin', 'nest.js');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [nest, 'build', 'shop'], { cwd: ROOT, stdio: 'inherit' });
    const stopBuild = async () => child.exitCode === null && child.kill('SIGTERM');
    stops.unshift(['build', stopBuild]);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      stops.splice(
        stops.findIndex(([, stop]) => stop === stopBuild),
        1,
      );
      if (code === 0) {
        say(`Built ${MAIN} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        resolve();
      } else reject(new Error(`nest build shop failed (${signal ?? `exit code ${code}`}); see its output above`));
    });
  });
}

let stopping = false;

/** Undoes everything started so far, newest first; a failure to stop one thing does not stop the rest. */
async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  for (const [what, stop] of stops) {
    say(`Stopping ${what}…`);
    await stop().catch((error) => say(`Could not stop ${what}: ${error.message}`));
  }
  say('Everything the demo started is stopped.');
  process.exit(exitCode);
}

function installExitHandlers() {
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (stopping) return say('Still stopping; one moment…');
      console.log();
      void stopAll(0);
    });
  }
}

main().catch((error) => {
  console.error(`[demo] ${error.message}`);
  void stopAll(1);
});
