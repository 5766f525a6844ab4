import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { onHostExit } from './host-process';
import { LOCALHOST, onFreePorts } from './ports';
import type { ConnectionOptions } from 'node:tls';
import { answersPing, askOver, waitUntil } from './probe';
import { redisTlsArgs, type TestCertificates } from './tls-certificates';

const REDIS_SERVER = 'redis-server';
const STOP_GRACE_MS = 5_000;

const missingReasonByPath = new Map<string, string | null>();

/**
 * Why redis-server cannot be used, or undefined when it can. Synchronous so
 * tests can decide to skip while they are being collected.
 */
export function redisServerMissingReason(): string | undefined {
  const path = process.env.PATH ?? '';
  if (!missingReasonByPath.has(path)) {
    const result = spawnSync(REDIS_SERVER, ['--version'], { env: process.env, encoding: 'utf8', timeout: 5_000 });
    const reason = result.error
      ? `${REDIS_SERVER} is not runnable (${result.error.message})`
      : result.status !== 0
        ? `${REDIS_SERVER} --version exited with ${result.status}`
        : null;
    missingReasonByPath.set(path, reason);
  }
  return missingReasonByPath.get(path) ?? undefined;
}

export interface RedisProcess {
  readonly port: number;
  readonly dir: string;
  /** Graceful shutdown (Redis flushes its append-only file), escalating to SIGKILL. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash or a lost machine: no shutdown, no flush. Resolves once the process is gone. */
  kill(): Promise<void>;
}

export interface LaunchOptions {
  port: number;
  /** Working folder: data, cluster config and the output log live here. */
  dir: string;
  /** Config file that must come first on the command line (sentinel mode needs one it can rewrite). */
  configFile?: string;
  args?: string[];
  /** Serve `port` over TLS only, with these certificates (the plain port closed). */
  tls?: TestCertificates;
}

/** `launchRedisServer` on a port found free, and on another if that one was taken meanwhile (see `onFreePorts`). */
export function launchOnFreePort(options: Omit<LaunchOptions, 'port'>): Promise<RedisProcess> {
  return onFreePorts(1, ([port]) => launchRedisServer({ ...options, port }));
}

/** Starts redis-server and resolves once it answers PING; on failure the error carries the tail of its log. */
export async function launchRedisServer(options: LaunchOptions): Promise<RedisProcess> {
  const { port, dir, tls } = options;
  const logFile = join(dir, `redis-${port}.log`);
  const args = [
    ...(options.configFile ? [options.configFile] : []),
    ...(options.args ?? []),
    ...(tls ? redisTlsArgs(tls, port) : []),
    ...['--port', tls ? '0' : String(port), '--bind', LOCALHOST, '--dir', dir, '--save', '', '--daemonize', 'no'],
  ];
  // Output goes straight to a file: no pipes to drain or leave open, and the log survives for error messages.
  const out = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    child = spawn(REDIS_SERVER, args, { detached: false, stdio: ['ignore', out, out], env: process.env });
  } finally {
    closeSync(out);
  }
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
    child.once('error', (error) => resolve(`could not start: ${error.message}`));
  });
  const releaseExitHook = onHostExit(() => child.kill('SIGKILL'));
  // Unreferenced so a forgotten server cannot keep jest from finishing; the exit hook still kills it.
  child.unref();

  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return releaseExitHook();
    child.ref();
    child.kill('SIGTERM');
    const grace = new AbortController();
    const done = await Promise.race([exited.then(() => true), delay(STOP_GRACE_MS, false, { signal: grace.signal }).catch(() => true)]);
    grace.abort();
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
    releaseExitHook();
  };

  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.ref();
      child.kill('SIGKILL');
      await exited;
    }
    releaseExitHook();
  };

  const gaveUp = new AbortController();
  void exited.then((how) => gaveUp.abort(new Error(`redis-server on port ${port} ${how} before answering PING`)));
  try {
    // The server that answers must be this child: a port found free may have been taken by another
    // process's server meanwhile (this one then exits, "Address already in use"), and a test must
    // never go on against someone else's Redis.
    await waitUntil(`redis-server on port ${port} to answer PING`, () => answeredByChild(port, child.pid, tls?.clientTls), {
      signal: gaveUp.signal,
    });
  } catch (error) {
    await stop();
    const failure = error instanceof Error ? error : new Error(String(error));
    failure.message += `\n--- last lines of its log ---\n${await logTail(logFile)}`;
    throw failure;
  }
  return { port, dir, stop, kill };
}

async function logTail(file: string, lines = 20): Promise<string> {
  const text = await readFile(file, 'utf8').catch((error: Error) => `(log unreadable: ${error.message})`);
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Whether the server answering on `port` is the process `pid`: its `INFO server` names its own process id. */
async function answeredByChild(port: number, pid: number | undefined, tls: ConnectionOptions | undefined): Promise<boolean> {
  if (!(await answersPing(LOCALHOST, port, tls))) return false;
  const info = String(await askOver({ host: LOCALHOST, port, tls }, 'INFO', 'server'));
  return /^process_id:(\d+)/m.exec(info)?.[1] === String(pid);
}
