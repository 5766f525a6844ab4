import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { uniquePrefix } from '../support/prefix';
import { CommandRecorder } from '../support/command-recorder';
import { Registry } from 'prom-client';
import { startSessionApp, type RunningApp } from '../session/support/session-app';
import { Visitor } from '../session/support/http-client';

const ROOT = join(__dirname, '..', '..');
const run = promisify(execFile);

/** Metrics cost nothing unless asked for, and never add a round trip to a request when they are on. */
describe('metrics off and on', () => {
  let redis: RedisServerHandle;
  beforeAll(async () => (redis = await startRedis()));
  afterAll(() => redis?.stop());

  async function probe(metrics: 'on' | 'off'): Promise<{ status: number; promClient: boolean }> {
    const { stdout } = await run(
      process.execPath,
      [
        '-r',
        'ts-node/register/transpile-only',
        '-r',
        'tsconfig-paths/register',
        join(__dirname, 'support', 'prom-client-probe.ts'),
        redis.url,
        uniquePrefix('probe'),
        metrics,
      ],
      { cwd: ROOT, env: { ...process.env, TS_NODE_PROJECT: join(ROOT, 'tsconfig.json') }, timeout: 60_000 },
    );
    return JSON.parse(stdout.trim().split('\n').pop()!);
  }

  it('never loads prom-client while `metrics` is unset, and loads it when set', async () => {
    expect(await probe('off')).toEqual({ status: 200, promClient: false });
    expect(await probe('on')).toEqual({ status: 200, promClient: true });
  }, 120_000);

  describe('request cost with metrics on', () => {
    let app: RunningApp;
    let recorder: CommandRecorder;
    const prefix = uniquePrefix('cost-metrics');
    beforeAll(async () => {
      app = await startSessionApp({ redis: redis.url, prefix, metrics: { registry: new Registry() } });
      recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
    });
    afterAll(async () => {
      await recorder?.stop();
      await app?.close();
    });

    async function commandsOf(action: () => Promise<unknown>) {
      await recorder.settle();
      recorder.reset();
      await action();
      return recorder.settle();
    }

    // The activity estimate flushes on a timer, one command per replica every few seconds, on keys of
    // its own: a request's own commands are the ones on session keys.
    const requestCommands = (commands: { name: string; args: string[] }[]) => commands.filter((c) => !c.args.some((a) => a.includes('{activity}')));

    it('sends nothing for a visitor without a cookie', async () => {
      const commands = await commandsOf(() => new Visitor(app.url).get('/peek'));
      expect(requestCommands(commands)).toEqual([]);
    });

    it('reads a session in one command', async () => {
      const visitor = new Visitor(app.url);
      await visitor.post('/set/views', { value: 1 });
      await visitor.get('/whole');
      const commands = await commandsOf(() => visitor.get('/whole'));
      expect(requestCommands(commands).map((c) => c.name)).toEqual(['HGETALL']);
    });
  });
});
