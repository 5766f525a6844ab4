import { readFileSync } from 'node:fs';

/**
 * Jest hands every test file a copy of `process`: listeners added to it never
 * fire when the worker really exits, and nothing on it outlives the file. A
 * function made by a Node core module's Function constructor runs in the host
 * realm, so it reaches the one real process shared by all test files.
 */
const HostFunction = readFileSync.constructor as FunctionConstructor;
export const hostProcess = new HostFunction('return process')() as NodeJS.Process;

type Slot = Record<symbol, unknown>;
const EXIT_HOOKS = Symbol.for('test-support.exit-hooks');

function exitHooks(): Set<() => void> {
  const slot = hostProcess as unknown as Slot;
  // Host-realm set and listeners, so a finished test file's sandbox is not
  // kept alive by the process that outlives it. Hooks run newest first:
  // servers die before the folders they write to are removed.
  slot[EXIT_HOOKS] ??= new HostFunction(
    'proc',
    `const hooks = new Set();
    const runHooks = () => { for (const hook of [...hooks].reverse()) { try { hook(); } catch {} } hooks.clear(); };
    proc.once('exit', runHooks);
    // jest-worker ends a worker that will not exit with SIGTERM, which skips 'exit'.
    // Clean up, then let the signal end the process as it would have without us.
    proc.once('SIGTERM', () => { runHooks(); if (proc.listenerCount('SIGTERM') === 0) proc.kill(proc.pid, 'SIGTERM'); });
    return hooks;`,
  )(hostProcess);
  return slot[EXIT_HOOKS] as Set<() => void>;
}

/** Runs `hook` synchronously when the real process exits or gets SIGTERM; call the result once the hook is no longer needed. */
export function onHostExit(hook: () => void): () => void {
  const hooks = exitHooks();
  hooks.add(hook);
  return () => hooks.delete(hook);
}

/** Remembers a primitive for the rest of the process, across test files. */
export function hostMemo(key: string): { get(): string | number | boolean | undefined; set(value: string | number | boolean): void } {
  const slot = hostProcess as unknown as Slot;
  const symbol = Symbol.for(`test-support.memo.${key}`);
  return {
    get: () => slot[symbol] as string | number | boolean | undefined,
    set: (value) => void (slot[symbol] = value),
  };
}
