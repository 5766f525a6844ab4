import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..');

/** Every child still running, so an interrupted bench can stop them (and only them). */
const running = new Set<ChildProcess>();

/**
 * A TypeScript entry of bench/ in its own Node process, run through ts-node (transpile only) with
 * the monorepo's path aliases, talking to the bench over IPC.
 */
export class BenchChild {
  private readonly waiting: Array<{ type: string; resolve: (message: unknown) => void; reject: (error: Error) => void }> = [];
  private exited = false;
  private stderr = '';

  private constructor(readonly process: ChildProcess) {
    process.on('message', (message: { type: string }) => {
      const at = this.waiting.findIndex((w) => w.type === message.type);
      if (at !== -1) this.waiting.splice(at, 1)[0].resolve(message);
    });
    const keep = (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4_000);
      if (globalThis.process.env.BENCH_VERBOSE) globalThis.process.stderr.write(chunk);
    };
    process.stdout?.on('data', keep);
    process.stderr?.on('data', keep);
    process.once('exit', (code, signal) => {
      this.exited = true;
      running.delete(process);
      const error = new Error(`child ${this.name} exited (${code ?? signal}) before answering: ${this.stderr.trim().slice(-1_500)}`);
      for (const w of this.waiting.splice(0)) w.reject(error);
    });
  }

  get name(): string {
    return String(this.process.spawnargs.find((arg) => arg.endsWith('.ts')) ?? 'child');
  }

  static start(entry: string, env: Record<string, string>, nodeFlags: string[] = []): BenchChild {
    const child = fork(join(ROOT, entry), [], {
      cwd: ROOT,
      env: { ...process.env, TS_NODE_TRANSPILE_ONLY: 'true', TS_NODE_PROJECT: join(ROOT, 'tsconfig.json'), ...env },
      execArgv: [...nodeFlags, '-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    running.add(child);
    return new BenchChild(child);
  }

  /** Resolves with the next message of this type; rejects if the child dies or the time runs out. */
  next<T = unknown>(type: string, timeoutMs = 60_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`child ${this.name} has exited: ${this.stderr.trim().slice(-1_500)}`));
    return new Promise<T>((resolve, reject) => {
      const entry = {
        type,
        // The caller names the message's type: the child is ours, and speaks the bench's protocol.
        resolve: (message: unknown) => {
          clearTimeout(timer);
          resolve(message as T);
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiting.splice(this.waiting.indexOf(entry), 1);
        reject(new Error(`child ${this.name} sent no "${type}" within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.push(entry);
    });
  }

  /** Sends a request and waits for the answer of the same type. */
  ask<T = unknown>(message: { type: string; [key: string]: unknown }, timeoutMs?: number): Promise<T> {
    const answer = this.next<T>(message.type, timeoutMs);
    this.process.send(message);
    return answer;
  }

  /** Asks the child to finish cleanly (so a --cpu-prof profile gets written), then makes sure it did. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.process.once('exit', () => resolve()));
    this.process.send({ type: 'stop' });
    const timer = setTimeout(() => this.process.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

/** Kills the children this bench started and that are still running (used on Ctrl-C and errors). */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
