import Redis from 'ioredis';
import type { ConnectionOptions } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';

/** Where `askOver` connects: a server address, over TLS when `tls` is given. */
export interface ServerTarget {
  host: string;
  port: number;
  tls?: ConnectionOptions;
}

/**
 * One command on a throwaway connection. It fails at once instead of
 * reconnecting, so the polling loops below decide how long to keep trying.
 */
export function ask(host: string, port: number, command: string, ...args: (string | number)[]): Promise<unknown> {
  return askOver({ host, port }, command, ...args);
}

/** `ask`, to a server that may take TLS connections only. */
export async function askOver({ host, port, tls }: ServerTarget, command: string, ...args: (string | number)[]): Promise<unknown> {
  const client = new Redis({
    host,
    port,
    tls,
    lazyConnect: true,
    connectTimeout: 1000,
    // Something else may hold the port and accept without ever replying.
    commandTimeout: 2000,
    disableClientInfo: true,
    enableReadyCheck: false,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // ioredis rejects a failed connect with a bare "Connection is closed."; the cause (ECONNREFUSED...) only reaches 'error'.
  let cause: Error | undefined;
  client.on('error', (error: Error) => (cause ??= error));
  try {
    await client.connect().catch((error: Error) => {
      throw cause ?? error;
    });
    return await client.call(command, ...args);
  } finally {
    // disconnect() on an already closed connection arms a 2 s timer nothing clears, which holds jest open.
    if (client.status !== 'end') client.disconnect();
  }
}

export async function answersPing(host: string, port: number, tls?: ConnectionOptions): Promise<boolean> {
  return (await askOver({ host, port, tls }, 'PING')) === 'PONG';
}

export interface WaitOptions {
  timeoutMs?: number;
  /** Gives up early, rethrowing the abort reason (e.g. the process being waited on died). */
  signal?: AbortSignal;
}

/**
 * Polls `check` until it returns true. The clock and timer come from Node
 * modules rather than globals so that tests using fake timers cannot freeze it.
 */
export async function waitUntil(what: string, check: () => Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const { timeoutMs = 15_000, signal } = options;
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    signal?.throwIfAborted();
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    signal?.throwIfAborted();
    if (performance.now() > deadline) {
      const cause = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await delay(100, undefined, { signal }).catch(() => undefined);
  }
}
