import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { SessionModuleOptions } from '@app/session';
import { onHostExit } from '../../support/host-process';

const ROOT = join(__dirname, '..', '..', '..');
const ENTRY = join(__dirname, 'child-session-app.main.ts');
const START_TIMEOUT_MS = 45_000; // ts-node transpiles the app on start: a few seconds, more on a busy machine

/** A session test app in a child process, so a crash ends that process and not the test. */
export interface ChildSessionApp {
  url: string;
  pid: number;
  /** True while the process runs. */
  alive(): boolean;
  /** How it ended: `code N` or the signal; undefined while it runs. */
  exitReason(): string | undefined;
  /** Resolves once the process has ended, or after `ms`; true when it ended. */
  exited(ms: number): Promise<boolean>;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the app of `child-session-app.main.ts` with these `SessionModule` options; resolves once it
 * listens. `env` adds to the process environment (e.g. NODE_EXTRA_CA_CERTS, read only at process start).
 */
export async function startChildSessionApp(options: Omit<SessionModuleOptions, 'secret'>, env: Record<string, string> = {}): Promise<ChildSessionApp> {
  const child = spawn(process.execPath, ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', ENTRY], {
    cwd: ROOT,
    env: { ...process.env, ...env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), CHILD_SESSION_APP_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const releaseExitHook = onHostExit(() => child.kill('SIGKILL'));
  let output = '';
  let exitReason: string | undefined;
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exitReason = signal ?? `code ${code}`;
      releaseExitHook();
      resolve();
    }),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child app did not listen within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = () => {
      const match = /LISTENING (\S+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      resolve(match[1]);
    };
    child.stdout!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`child app exited (${exitReason}) before listening:\n${output}`));
    });
  });
  return {
    url,
    pid: child.pid!,
    alive: () => exitReason === undefined,
    exitReason: () => exitReason,
    output: () => output,
    exited: (ms) => Promise.race([exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, ms, false).unref())]),
    async stop() {
      if (exitReason !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
