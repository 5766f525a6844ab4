import { startRedis, type RedisServerHandle } from '../support/redis';
import { CommandRecorder } from '../support/command-recorder';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionRedisKey } from '@app/session/redis/redis-keys';

/**
 * What a request costs in Redis, counted in commands (each one a round trip at most), so the
 * assertions hold on any machine.
 */
describe('request cost in Redis commands', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  let recorder: CommandRecorder;
  const prefix = uniquePrefix('cost');

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix });
    recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
  });

  afterAll(async () => {
    await recorder?.stop();
    await app?.close();
    await redis?.stop();
  });

  async function commandsOf(action: () => Promise<unknown>) {
    await recorder.settle();
    recorder.reset();
    await action();
    return recorder.settle();
  }

  async function visitorWithSession(data: Record<string, unknown>): Promise<Visitor> {
    const visitor = new Visitor(app.url);
    for (const [key, value] of Object.entries(data)) await visitor.post(`/set/${key}`, { value });
    // Warm the script cache so EVALSHA never falls back to EVAL inside a measured request.
    await visitor.get('/whole');
    return visitor;
  }

  it('sends nothing and sets no cookie for a visitor without a cookie who stores nothing', async () => {
    const visitor = new Visitor(app.url);
    let res!: Awaited<ReturnType<Visitor['get']>>;
    const commands = await commandsOf(async () => {
      res = await visitor.get('/peek');
      await visitor.get('/whole'); // even reading the whole session stores nothing
    });
    expect(res.status).toBe(200);
    expect(res.setCookie).toBeNull();
    expect(visitor.cookie).toBeUndefined();
    expect(commands).toEqual([]);
  });

  it('reads an existing session, refreshing its idle timeout, in one command', async () => {
    const visitor = await visitorWithSession({ views: 3, cart: ['a', 'b'] });
    const expiryBefore = await expiryOf(visitor);
    await new Promise((resolve) => setTimeout(resolve, 50));
    let res!: Awaited<ReturnType<Visitor['get']>>;
    const commands = await commandsOf(async () => {
      res = await visitor.get('/whole');
    });
    expect(res.body).toMatchObject({ views: 3, cart: ['a', 'b'] });
    expect(commands.map((c) => c.name)).toEqual(['EVALSHA']);
    // The one command also slid the expiry forward.
    expect(await expiryOf(visitor)).toBeGreaterThanOrEqual(expiryBefore + 50);
    expect(res.setCookie).toBeNull();
  });

  it('writes only the changed key, in one command after the read', async () => {
    const visitor = await visitorWithSession({ views: 1, cart: ['x', 'y', 'z'], profile: { theme: 'dark' } });
    const commands = await commandsOf(() => visitor.post('/inc'));
    expect(commands).toHaveLength(2);
    const [read, write] = commands;
    expect(read.name).toBe('EVALSHA');
    expect(write.name).toBe('EVALSHA');
    // SAVE_SESSION args: sha, numkeys, key, mode, expireAt, now, n, ...pairs
    const [, , , mode, , , count, ...rest] = write.args;
    expect(mode).toBe('patch');
    expect(count).toBe('1');
    expect(rest).toEqual(['views', '2']);
  });

  it('never rewrites an unchanged session', async () => {
    const visitor = await visitorWithSession({ views: 5 });
    const commands = await commandsOf(async () => {
      await visitor.get('/whole');
      await visitor.get('/peek');
      await visitor.post('/set/views', { value: 5 }); // assigning the same value changes nothing
    });
    // Three reads, no write.
    expect(commands.map((c) => c.name)).toEqual(['EVALSHA', 'EVALSHA', 'EVALSHA']);
    const shas = new Set(commands.map((c) => c.args[0]));
    expect(shas.size).toBe(1);
  });

  /** The session key's absolute expiry, ms. */
  async function expiryOf(visitor: Visitor): Promise<number> {
    const { default: Redis } = await import('ioredis');
    const client = new Redis(redis.url);
    try {
      const sid = decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0];
      return Number(await client.call('PEXPIRETIME', sessionRedisKey(prefix, sid)));
    } finally {
      client.disconnect();
    }
  }
});
