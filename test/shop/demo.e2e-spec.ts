import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ShopClient } from './support/shop-client';
import { freePorts } from '../support/ports';

// `npm run demo` as a newcomer runs it: it finds or starts a Redis, builds the shop, starts three
// replicas behind the balancer, and Ctrl-C (SIGINT) stops everything it started.

const ROOT = join(__dirname, '..', '..');
const STARTUP_MS = 90_000; // the webpack build dominates: 5-20 s depending on the machine

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('npm run demo', () => {
  let demo: ChildProcess | undefined;
  let output = '';

  afterAll(() => {
    // Only if the test failed half-way: the demo's own group, nothing else.
    if (demo?.pid && demo.exitCode === null) process.kill(-demo.pid, 'SIGKILL');
  });

  it('serves the shop through the balancer from three replicas, and stops everything on SIGINT', async () => {
    const [port] = await freePorts(1);
    const env: NodeJS.ProcessEnv = { ...process.env, DEMO_PORT: String(port), NO_COLOR: '1' };
    delete env.REDIS_URL; // exercise the throwaway Redis
    demo = spawn(process.execPath, [join(ROOT, 'scripts', 'demo.js')], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<number | null>((resolve) => demo!.once('exit', (code) => resolve(code)));
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    const started = Date.now();
    while (!output.includes('open http://')) {
      if (demo.exitCode !== null) throw new Error(`The demo exited early:\n${output}`);
      if (Date.now() - started > STARTUP_MS) throw new Error(`The demo did not start within ${STARTUP_MS / 1000} s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(output).toContain(`open http://127.0.0.1:${port}`);
    expect(output).toContain('alice / wonderland');
    expect(output).toContain('bob / builder');
    expect(output).toContain('Ctrl-C');
    expect(output).toMatch(/Building the shop/);

    const client = new ShopClient(`http://127.0.0.1:${port}`);
    const answers = [await client.get('/'), await client.get('/health'), await client.get('/health')];
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200]);
    expect(new Set(answers.map((res) => res.replica))).toEqual(new Set(['replica-1', 'replica-2', 'replica-3']));
    expect((await client.login('alice', 'wonderland')).status).toBe(200);
    expect((await client.get('/api/auth/sessions')).body[0]).toMatchObject({ ip: '127.0.0.1', current: true });

    const pids = [...output.matchAll(/\(pid (\d+)\)/g)].map((match) => Number(match[1]));
    expect(pids.length).toBeGreaterThanOrEqual(3); // three replicas, and redis-server when no Docker engine answered
    for (const pid of pids) expect(isAlive(pid)).toBe(true);

    demo.kill('SIGINT'); // the demo alone, as `kill -INT`: it must stop its children itself
    expect(await exited).toBe(0);
    expect(output).toContain('Everything the demo started is stopped.');
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/health`)).rejects.toThrow();
  }, 150_000);
});
