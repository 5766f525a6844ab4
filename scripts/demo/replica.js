'use strict';
// One replica of the shop as a child process of the built bundle, its log lines prefixed with its name.

const { spawn } = require('node:child_process');
const readline = require('node:readline');
const { answers200, waitUntil } = require('./wait');

/**
 * Starts `node <main>` and resolves once its /health answers 200. Until then its output is kept, and
 * shown only if it fails to start; afterwards each line is passed to `print` with the replica's name.
 * @param {{ main: string, id: string, port: number, env: NodeJS.ProcessEnv, print: (line: string) => void,
 *   onExit?: (how: string) => void }} options  onExit: called if the replica exits after it was healthy
 * @returns {Promise<{ id: string, url: string, pid: number, stop(): Promise<void> }>}
 */
async function startReplica({ main, id, port, env, print, onExit = () => undefined }) {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, ...env, PORT: String(port), REPLICA_ID: id },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const url = `http://127.0.0.1:${port}`;
  const early = [];
  let ready = false;
  for (const stream of [child.stdout, child.stderr]) {
    readline.createInterface({ input: stream }).on('line', (line) => (ready ? print(`${id} | ${line}`) : early.push(line)));
  }
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `code ${code}`)));
  void exited.then((how) => ready && onExit(how));

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // the shop closes its Redis connection and HTTP server on SIGTERM
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  };

  const died = exited.then((how) => {
    throw new Error(`Replica ${id} exited (${how}) before it was healthy. Its output:\n${early.join('\n')}`);
  });
  try {
    await Promise.race([waitUntil(`replica ${id} to answer GET /health with 200`, () => answers200(`${url}/health`)), died]);
  } catch (error) {
    await stop();
    if (!String(error.message).includes('Its output')) error.message += `\nIts output so far:\n${early.join('\n')}`;
    throw error;
  }
  died.catch(() => undefined);
  ready = true;
  return { id, url, pid: child.pid, stop };
}

module.exports = { startReplica };
