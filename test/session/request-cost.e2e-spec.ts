import Redis from 'ioredis';
import { startRedis, type RedisServerHandle } from '../support/redis';
import { CommandRecorder } from '../support/command-recorder';
import { isSave, saveOf } from '../support/save-args';
import { uniquePrefix } from '../support/prefix';
import { startSessionApp, type RunningApp } from './support/session-app';
import { Visitor } from './support/http-client';
import { sessionRedisKey } from '../support/key-scheme';
import { gates } from './support/gates';

/** Idle timeout of the app under test; a slide is due once the expiry would gain a tenth of it (`touchAfter`'s default). */
const IDLE_MS = 60_000;
const TOUCH_AFTER_MS = IDLE_MS / 10;

/**
 * What a request costs in Redis, counted in commands (each one a round trip at most), so the
 * assertions hold on any machine: sent (MONITOR) and executed (INFO commandstats, which counts the
 * commands scripts run too).
 */
describe('request cost in Redis commands', () => {
  let redis: RedisServerHandle;
  let app: RunningApp;
  let recorder: CommandRecorder;
  let admin: Redis;
  const prefix = uniquePrefix('cost');

  beforeAll(async () => {
    redis = await startRedis();
    app = await startSessionApp({ redis: redis.url, prefix, idleTimeout: IDLE_MS });
    recorder = await CommandRecorder.start(redis.url, { keyPrefix: prefix });
    admin = new Redis(redis.url);
  });

  afterAll(async () => {
    admin?.disconnect();
    await recorder?.stop();
    await app?.close();
    await redis?.stop();
  });

  /**
   * Commands Redis executed while `action` ran, by name, scripts' inner calls included. This Redis
   * serves this file alone; the admin's INFO and the recorder's PING markers are left out.
   */
  async function executedDuring(action: () => Promise<unknown>): Promise<Record<string, number>> {
    const before = await commandCalls();
    await action();
    const after = await commandCalls();
    const delta: Record<string, number> = {};
    for (const [name, calls] of Object.entries(after)) {
      const more = calls - (before[name] ?? 0);
      if (more > 0 && name !== 'info' && name !== 'ping') delta[name] = more;
    }
    return delta;
  }

  async function commandCalls(): Promise<Record<string, number>> {
    const info = await admin.info('commandstats');
    const calls: Record<string, number> = {};
    for (const [, name, count] of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[name] = Number(count);
    return calls;
  }

  /** Makes the session's slide due, as if its last write were `TOUCH_AFTER_MS` + 1 s old. */
  async function ageSession(visitor: Visitor): Promise<void> {
    const key = sessionRedisKey(prefix, sidOf(visitor));
    const older = Number(await admin.hget(key, ':e')) - TOUCH_AFTER_MS - 1_000;
    await admin.multi().hset(key, ':e', older).pexpireat(key, older).exec();
  }

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

  it("creates a visitor's session in one write of four commands (script, HMGET, HSET, PEXPIREAT)", async () => {
    const visitor = new Visitor(app.url);
    await visitorWithSession({ warm: 1 }); // the script cache, warmed by another visitor
    const executed = await executedDuring(() => visitor.post('/set/views', { value: 1 }));
    expect(executed).toEqual({ evalsha: 1, hmget: 1, hset: 1, pexpireat: 1 });
    expect(visitor.cookie).toBeDefined();
  });

  it('reads an existing session in one command, which writes nothing, while no slide of its idle timeout is due', async () => {
    const visitor = await visitorWithSession({ views: 3, cart: ['a', 'b'] });
    const expiryBefore = await expiryOf(visitor);
    let res!: Awaited<ReturnType<Visitor['get']>>;
    let sent!: Awaited<ReturnType<typeof commandsOf>>;
    const executed = await executedDuring(async () => {
      sent = await commandsOf(async () => {
        res = await visitor.get('/whole');
      });
    });
    expect(res.body).toMatchObject({ views: 3, cart: ['a', 'b'] });
    expect(sent.map((c) => c.name)).toEqual(['HGETALL']);
    expect(executed).toEqual({ hgetall: 1 }); // one command executed, no write of any kind
    expect(await expiryOf(visitor)).toBe(expiryBefore);
    expect(res.setCookie).toBeNull();
  });

  it('slides a session whose slide is due with one small script sent after the read, its expiry back to the full window', async () => {
    const visitor = await visitorWithSession({ views: 3 });
    await ageSession(visitor);
    await visitor.get('/whole'); // loads the slide's script, so EVALSHA never falls back to EVAL below
    await ageSession(visitor);
    const started = Date.now();
    let sent!: Awaited<ReturnType<typeof commandsOf>>;
    const executed = await executedDuring(async () => {
      sent = await commandsOf(() => visitor.get('/whole'));
    });
    expect(sent.map((c) => c.name)).toEqual(['HGETALL', 'EVALSHA']);
    // The slide reads the creation time and expiry field, then sets the expiry and the expiry field.
    expect(executed).toEqual({ hgetall: 1, evalsha: 1, hmget: 1, pexpireat: 1, hset: 1 });
    expect(await expiryOf(visitor)).toBeGreaterThanOrEqual(started + IDLE_MS);
    // The next read finds no slide due again.
    expect((await commandsOf(() => visitor.get('/whole'))).map((c) => c.name)).toEqual(['HGETALL']);
  });

  it('writes only the changed key, in one command after the read', async () => {
    const visitor = await visitorWithSession({ views: 1, cart: ['x', 'y', 'z'], profile: { theme: 'dark' } });
    const commands = await commandsOf(() => visitor.post('/inc'));
    expect(commands).toHaveLength(2);
    const [read, write] = commands;
    expect(read.name).toBe('HGETALL');
    expect(write.name).toBe('EVALSHA');
    expect(saveOf(write)).toMatchObject({ mode: 'patch', set: ['views', '2'], del: [] });
  });

  it('a change of one key inside touchAfter executes three commands in its one write (script, HMGET, HSET) and leaves the expiry', async () => {
    const visitor = await visitorWithSession({ views: 1, cart: ['x', 'y', 'z'] });
    const expiryBefore = await expiryOf(visitor);
    const executed = await executedDuring(() => visitor.post('/inc'));
    expect(executed).toEqual({ hgetall: 1, evalsha: 1, hmget: 1, hset: 1 });
    expect(await expiryOf(visitor)).toBe(expiryBefore);
  });

  it('an atomic update (SessionService.update) inside touchAfter executes the same three commands in its one write', async () => {
    const visitor = await visitorWithSession({ views: 1 });
    await visitor.post('/items', { item: 'first' }); // the key exists: the next update takes the compare-and-set path
    const executed = await executedDuring(() => visitor.post('/items', { item: 'second' }));
    expect(executed).toEqual({ hgetall: 1, evalsha: 1, hmget: 1, hset: 1 });
    expect((await visitor.get('/whole')).body).toMatchObject({ items: ['first', 'second'] });
  });

  it('a change once the slide is due slides the expiry once: the read sends the slide, the write leaves it', async () => {
    const visitor = await visitorWithSession({ views: 1 });
    await ageSession(visitor);
    const started = Date.now();
    const executed = await executedDuring(() => visitor.post('/inc'));
    expect(executed).toEqual({ hgetall: 1, evalsha: 2, hmget: 2, pexpireat: 1, hset: 2 });
    expect(await expiryOf(visitor)).toBeGreaterThanOrEqual(started + IDLE_MS);
  });

  it('costs parallel requests of one session that change different keys one read and one write each: no queue, no retry', async () => {
    const visitor = await visitorWithSession({ views: 1 });
    const keys = Array.from({ length: 20 }, (_, i) => `key${i}`);
    // The gate holds every request between its read and its save until all 20 have read: every save meets the others'.
    const gate = gates.unique('parallel-keys');
    const commands = await commandsOf(async () => {
      const saves = Promise.all(
        keys.map((key, i) => {
          const parallel = new Visitor(app.url);
          parallel.cookie = visitor.cookie;
          return parallel.post(`/set/${key}`, { value: i, gate });
        }),
      );
      await gates.arrived(gate, keys.length);
      gates.open(gate);
      return saves;
    });
    expect(commands).toHaveLength(2 * keys.length);
    // Each save patches its own key only, so none can overwrite another's.
    const writes = commands.filter(isSave).map((command) => saveOf(command).set);
    expect(writes.sort()).toEqual(keys.map((key, i) => [key, String(i)]).sort());
    const { body } = await visitor.get('/whole');
    expect(body).toMatchObject(Object.fromEntries(keys.map((key, i) => [key, i])));
  });

  it('never rewrites an unchanged session', async () => {
    const visitor = await visitorWithSession({ views: 5 });
    const commands = await commandsOf(async () => {
      await visitor.get('/whole');
      await visitor.get('/peek');
      await visitor.post('/set/views', { value: 5 }); // assigning the same value changes nothing
    });
    // Three reads, no write.
    expect(commands.map((c) => c.name)).toEqual(['HGETALL', 'HGETALL', 'HGETALL']);
  });

  /*
   * Not a Redis cost, but one of the same kind, the same on any machine: what the end-of-request save
   * stringifies. Only the keys the request reached can have changed; the library's own read of the
   * user id (for the user index) reaches none.
   */
  it("stringifies none of a logged-in session's values that the request did not reach, the user included", async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/login', { id: 'cost-user', name: 'Cost' });
    await visitor.post('/set/views', { value: 2 });
    const stringify = jest.spyOn(JSON, 'stringify');
    try {
      const { body } = await visitor.get('/peek');
      expect(body).toEqual({ views: 2 });
      const ofUser = stringify.mock.calls.filter(([value]) => (value as { id?: unknown } | null)?.id === 'cost-user');
      expect(ofUser).toEqual([]);
    } finally {
      stringify.mockRestore();
    }
  });

  it('parses only the object values the request reaches, however many the session holds', async () => {
    const visitor = new Visitor(app.url);
    await visitor.post('/login', { id: 'parse-user', name: 'Parse' });
    for (let k = 0; k < 20; k++) await visitor.post(`/set/pref${k}`, { value: { label: `preference ${k}`, k } });
    const parse = jest.spyOn(JSON, 'parse');
    try {
      // A session value's own JSON (the answers the client parses hold several, and start otherwise).
      const ofPrefs = () => parse.mock.calls.filter(([text]) => typeof text === 'string' && text.startsWith('{"label":"preference'));
      const { body } = await visitor.get('/peek'); // reads `views` only: absent here
      expect(body).toEqual({ views: null });
      expect(ofPrefs()).toEqual([]);
      expect((await visitor.get('/whole')).body).toMatchObject({ pref3: { label: 'preference 3', k: 3 } });
      expect(ofPrefs()).toHaveLength(20);
    } finally {
      parse.mockRestore();
    }
  });

  /** The session key's absolute expiry, ms. */
  async function expiryOf(visitor: Visitor): Promise<number> {
    return Number(await admin.call('PEXPIRETIME', sessionRedisKey(prefix, sidOf(visitor))));
  }
});

function sidOf(visitor: Visitor): string {
  return decodeURIComponent(visitor.cookie!.split('=')[1]).slice(2).split('.')[0];
}
