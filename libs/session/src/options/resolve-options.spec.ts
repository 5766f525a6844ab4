import Redis, { Cluster } from 'ioredis';
import { hostname } from 'node:os';
import { SessionConfigError } from '../errors/session-config.error';
import { SESSION_DEFAULTS, resolveSessionOptions } from './resolve-options';
import type { SessionModuleOptions } from './session-options.interface';
import { defaultSessionUserId } from '../users/user-id';

const SECRET = 'a-secret-of-at-least-32-characters!!';
const OLD_SECRET = 'the-previous-secret-also-32-chars-long';
// Only validated, never connected to.
const REDIS_URL = 'redis://sessions.example.internal:6380';
const valid: SessionModuleOptions = { secret: SECRET, redis: REDIS_URL };

/** The SessionConfigError that resolving these options throws. */
function configError(options: unknown): SessionConfigError {
  try {
    resolveSessionOptions(options as SessionModuleOptions);
  } catch (error) {
    if (error instanceof SessionConfigError) return error;
    throw error;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

function expectRejected(options: unknown, option: string): void {
  const error = configError(options);
  expect(error.option).toBe(option);
  expect(error.name).toBe('SessionConfigError');
  expect(error.message).toContain(`"${option}"`);
}

describe('resolveSessionOptions: defaults', () => {
  it('fills in every default', () => {
    expect(resolveSessionOptions(valid)).toEqual({
      secrets: [SECRET],
      redis: REDIS_URL,
      prefix: 'sess:',
      cookie: { name: 'sid', httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/', domain: undefined, maxAge: undefined },
      idFrom: 'cookie',
      header: 'X-Session-Token',
      idleTimeout: 30 * 60_000,
      absoluteTimeout: 12 * 60 * 60_000,
      maxSessionsPerUser: 0,
      userId: defaultSessionUserId,
      onLimit: 'evict-oldest',
      touchAfter: 60_000,
      commandTimeout: 1_000,
      maxSessionBytes: 64 * 1024,
      updateRetries: 20,
      trustProxy: undefined,
      forRoutes: undefined,
      exclude: [],
      events: { crossReplica: false, expired: false, enableKeyspaceEvents: false, replica: `${hostname()}:${process.pid}` },
    });
    expect(SESSION_DEFAULTS).toMatchObject({ idleTimeout: 1_800_000, absoluteTimeout: 43_200_000, commandTimeout: 1_000 });
  });

  it('keeps the values given', () => {
    const resolved = resolveSessionOptions({
      secret: [SECRET, OLD_SECRET],
      redis: { host: 'sessions.example.internal', port: 6380, lazyConnect: true },
      prefix: 'shop:sess:',
      cookie: { name: '__Host-sid', httpOnly: false, sameSite: 'strict', secure: true, path: '/app', domain: 'example.com' },
      idleTimeout: 5 * 60_000,
      absoluteTimeout: false,
      maxSessionsPerUser: 3,
      onLimit: 'reject',
      touchAfter: 10_000,
      commandTimeout: 250,
      maxSessionBytes: 4_096,
      updateRetries: 0,
      trustProxy: true,
      forRoutes: ['shop/*'],
      exclude: ['health'],
    });
    expect(resolved).toMatchObject({
      secrets: [SECRET, OLD_SECRET],
      prefix: 'shop:sess:',
      cookie: { name: '__Host-sid', httpOnly: false, sameSite: 'strict', secure: true, path: '/app', domain: 'example.com' },
      idleTimeout: 300_000,
      absoluteTimeout: 0,
      maxSessionsPerUser: 3,
      onLimit: 'reject',
      touchAfter: 10_000,
      commandTimeout: 250,
      maxSessionBytes: 4_096,
      updateRetries: 0,
      trustProxy: true,
      forRoutes: ['shop/*'],
      exclude: ['health'],
    });
  });

  it('keeps idFrom and a header name as given; the name keeps its case for responses', () => {
    expect(resolveSessionOptions({ ...valid, idFrom: 'both' })).toMatchObject({ idFrom: 'both', header: 'X-Session-Token' });
    expect(resolveSessionOptions({ ...valid, idFrom: 'header', header: 'X-Api-Session' })).toMatchObject({ idFrom: 'header', header: 'X-Api-Session' });
  });

  it('derives touchAfter from the idle timeout, reads its deprecated name lastSeenInterval, and takes 0', () => {
    expect(resolveSessionOptions({ ...valid, idleTimeout: 5 * 60_000 }).touchAfter).toBe(30_000); // a tenth
    expect(resolveSessionOptions({ ...valid, idleTimeout: 24 * 60 * 60_000, absoluteTimeout: false }).touchAfter).toBe(60_000); // at most a minute
    expect(resolveSessionOptions({ ...valid, cookie: { maxAge: 100_000 } }).touchAfter).toBe(10_000);
    expect(resolveSessionOptions({ ...valid, lastSeenInterval: 5_000 }).touchAfter).toBe(5_000);
    expect(resolveSessionOptions({ ...valid, touchAfter: 0 }).touchAfter).toBe(0);
  });

  it('keeps a userId function as it is', () => {
    const userId: SessionModuleOptions['userId'] = (session) => session.account?.id;
    expect(resolveSessionOptions({ ...valid, userId }).userId).toBe(userId);
  });

  it('turns maxSessionsPerUser: Infinity into 0 (no limit)', () => {
    expect(resolveSessionOptions({ ...valid, maxSessionsPerUser: Infinity }).maxSessionsPerUser).toBe(0);
  });

  it('accepts an ioredis client as it is, without touching it', () => {
    const client = new Redis({ lazyConnect: true });
    const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true });
    try {
      expect(resolveSessionOptions({ ...valid, redis: client }).redis).toBe(client);
      expect(resolveSessionOptions({ ...valid, redis: cluster }).redis).toBe(cluster);
      expect(client.status).toBe('wait');
    } finally {
      client.disconnect();
      cluster.disconnect();
    }
  });

  it('accepts Sentinel and Cluster shapes, and rediss:// URLs', () => {
    const sentinel = { sentinels: [{ host: 's1', port: 26379 }], name: 'primary' };
    expect(resolveSessionOptions({ ...valid, redis: sentinel }).redis).toBe(sentinel);
    const cluster = { cluster: [{ host: 'c1', port: 7000 }] };
    expect(resolveSessionOptions({ ...valid, redis: cluster }).redis).toBe(cluster);
    expect(resolveSessionOptions({ ...valid, redis: 'rediss://user:pw@host:6380/2' }).redis).toBe('rediss://user:pw@host:6380/2');
  });
});

describe('resolveSessionOptions: cookie.maxAge and idleTimeout', () => {
  it('makes cookie.maxAge the idle timeout when idleTimeout is unset', () => {
    expect(resolveSessionOptions({ ...valid, cookie: { maxAge: 120_000 } })).toMatchObject({ idleTimeout: 120_000, cookie: { maxAge: 120_000 } });
  });

  it('accepts both when they are equal', () => {
    expect(resolveSessionOptions({ ...valid, idleTimeout: 120_000, cookie: { maxAge: 120_000 } }).idleTimeout).toBe(120_000);
  });

  it('refuses both when they differ, naming both', () => {
    const error = configError({ ...valid, idleTimeout: 60_000, cookie: { maxAge: 120_000 } });
    expect(error.option).toBe('cookie.maxAge');
    expect(error.message).toMatch(/"cookie\.maxAge".*120000.*"idleTimeout".*60000/);
  });

  it('refuses an absoluteTimeout shorter than the idle timeout, also one that came from cookie.maxAge', () => {
    expectRejected({ ...valid, idleTimeout: 60_000, absoluteTimeout: 30_000 }, 'absoluteTimeout');
    expectRejected({ ...valid, cookie: { maxAge: 60_000 }, absoluteTimeout: 30_000 }, 'absoluteTimeout');
    expect(resolveSessionOptions({ ...valid, idleTimeout: 60_000, absoluteTimeout: 60_000 }).absoluteTimeout).toBe(60_000);
  });
});

describe('resolveSessionOptions: invalid options name the option', () => {
  it('refuses options that are not an object', () => {
    expectRejected(null, 'options');
    expectRejected('secret', 'options');
  });

  it.each([
    ['missing', undefined, 'secret'],
    ['too short', 'short-secret', 'secret'],
    ['31 characters', 'x'.repeat(31), 'secret'],
    ['not a string', 12345, 'secret'],
    ['an empty array', [], 'secret'],
    ['an array with a short element', [SECRET, 'short'], 'secret[1]'],
    ['an array with a non-string element', [42, SECRET], 'secret[0]'],
  ])('secret: %s', (_what, secret, option) => {
    expectRejected({ ...valid, secret }, option);
  });

  it.each([
    ['missing', undefined, 'redis'],
    ['null', null, 'redis'],
    ['a number', 6379, 'redis'],
    ['a URL of another scheme', 'http://sessions.example.internal:6379', 'redis'],
    ['a host without scheme', 'sessions.example.internal:6379', 'redis'],
    ['an empty cluster', { cluster: [] }, 'redis.cluster'],
    ['a cluster that is not an array', { cluster: 'c1:7000' }, 'redis.cluster'],
    ['no sentinels', { sentinels: [], name: 'primary' }, 'redis.sentinels'],
    ['sentinels without a master name', { sentinels: [{ host: 's1', port: 26379 }] }, 'redis.name'],
  ])('redis: %s', (_what, redis, option) => {
    expectRejected({ ...valid, redis }, option);
  });

  it.each([[''], ['has space'], ['tab\t'], [42]])('prefix: %p', (prefix) => {
    expectRejected({ ...valid, prefix }, 'prefix');
  });

  it.each([
    ['cookie.sameSite', { sameSite: 'sometimes' }],
    ['cookie.sameSite', { sameSite: 'Lax' }],
    ['cookie.secure', { secure: 'yes' }],
    ['cookie.secure', { secure: 1 }],
    ['cookie.path', { path: 'shop' }],
    ['cookie.path', { path: 5 }],
    ['cookie.path', { path: '' }],
    ['cookie.maxAge', { maxAge: 0 }],
    ['cookie.maxAge', { maxAge: -1_000 }],
    ['cookie.maxAge', { maxAge: 1.5 }],
    ['cookie.maxAge', { maxAge: '60000' }],
    ['cookie.name', { name: '' }],
    ['cookie.httpOnly', { httpOnly: 'true' }],
    ['cookie.domain', { domain: '' }],
  ])('%s: %p', (option, cookie) => {
    expectRejected({ ...valid, cookie }, option);
  });

  const durations: unknown[][] = [[0], [-1], [1.5], ['1000'], [Number.NaN], [Infinity], [null]];

  it.each(durations)('idleTimeout: %p', (idleTimeout) => {
    expectRejected({ ...valid, idleTimeout }, 'idleTimeout');
  });

  it.each([...durations, [true]] as unknown[][])('absoluteTimeout: %p', (absoluteTimeout) => {
    expectRejected({ ...valid, absoluteTimeout }, 'absoluteTimeout');
  });

  it.each(durations)('commandTimeout: %p', (commandTimeout) => {
    expectRejected({ ...valid, commandTimeout }, 'commandTimeout');
  });

  const touchAfters: unknown[][] = [[-1], ['1000'], [Number.NaN], [Infinity], [null], [30 * 60_000], [40 * 60_000]];

  it.each(touchAfters)('touchAfter: %p (must be from 0 to below idleTimeout)', (touchAfter) => {
    expectRejected({ ...valid, touchAfter }, 'touchAfter');
  });

  it.each(touchAfters)('lastSeenInterval, the deprecated name of touchAfter: %p', (lastSeenInterval) => {
    expectRejected({ ...valid, lastSeenInterval }, 'lastSeenInterval');
  });

  it('refuses touchAfter and its deprecated name lastSeenInterval together', () => {
    expectRejected({ ...valid, touchAfter: 1_000, lastSeenInterval: 1_000 }, 'lastSeenInterval');
  });

  it.each([[0], [-3], [2.5], ['3'], [Number.NaN], [null]])('maxSessionsPerUser: %p', (maxSessionsPerUser) => {
    expectRejected({ ...valid, maxSessionsPerUser }, 'maxSessionsPerUser');
  });

  it.each([['drop'], ['evict-newest'], [true]])('onLimit: %p', (onLimit) => {
    expectRejected({ ...valid, onLimit }, 'onLimit');
  });

  it.each([['user.id'], [{ id: 1 }], [null], [true]])('userId: %p', (userId) => {
    expectRejected({ ...valid, userId }, 'userId');
  });

  it.each([[0], [-1], [1.5], ['65536'], [Infinity]])('maxSessionBytes: %p', (maxSessionBytes) => {
    expectRejected({ ...valid, maxSessionBytes }, 'maxSessionBytes');
  });

  it.each([[-1], [1.5], ['3'], [Infinity]])('updateRetries: %p', (updateRetries) => {
    expectRejected({ ...valid, updateRetries }, 'updateRetries');
  });

  it.each([['header '], ['Header'], ['cookies'], [true], [null]])('idFrom: %p', (idFrom) => {
    expectRejected({ ...valid, idFrom }, 'idFrom');
  });

  it.each([[''], ['X Session'], ['X-Session:'], ['X-Sessión'], [42], [null], ['Cookie'], ['set-cookie'], ['Authorization'], ['X-CSRF-Token']])(
    'header: %p',
    (header) => {
      expectRejected({ ...valid, idFrom: 'header', header }, 'header');
    },
  );

  it('refuses a header name while idFrom is cookie, since nothing would read it', () => {
    expectRejected({ ...valid, header: 'X-Session-Token' }, 'header');
    expect(configError({ ...valid, idFrom: 'cookie', header: 'X-Token' }).message).toMatch(/"idFrom" is 'cookie'/);
  });

  it('trustProxy, forRoutes and exclude', () => {
    expectRejected({ ...valid, trustProxy: 'yes' }, 'trustProxy');
    expectRejected({ ...valid, forRoutes: 'shop/*' }, 'forRoutes');
    expectRejected({ ...valid, exclude: { path: 'health' } }, 'exclude');
  });

  it('says what was wrong with the value', () => {
    expect(configError({ ...valid, commandTimeout: -5 }).message).toBe(
      'SessionModule option "commandTimeout" must be a positive whole number of milliseconds; got -5',
    );
    expect(configError({ ...valid, secret: 'short' }).message).toMatch(/at least 32 characters/);
  });
});

describe('resolveSessionOptions: durability', () => {
  it('is off unless given, and kept as given when valid', () => {
    expect(resolveSessionOptions(valid).durability).toBeUndefined();
    expect(resolveSessionOptions({ ...valid, durability: { replicas: 1, timeout: 50 } }).durability).toEqual({ replicas: 1, timeout: 50 });
  });

  it.each([
    [null, 'durability'],
    [{ replicas: 0, timeout: 50 }, 'durability.replicas'],
    [{ replicas: 1.5, timeout: 50 }, 'durability.replicas'],
    [{ replicas: 1 }, 'durability.timeout'],
    [{ replicas: 1, timeout: 0 }, 'durability.timeout'],
    [{ replicas: 1, timeout: 1_000 }, 'durability.timeout'], // must end before commandTimeout (1 s by default)
  ])('refuses %j at boot, naming %s', (durability, option) => {
    expectRejected({ ...valid, durability }, option);
  });
});

describe('resolveSessionOptions: nearCache', () => {
  it('is off unless given, takes every default with true, and keeps the bounds given', () => {
    expect(resolveSessionOptions(valid).nearCache).toBeUndefined();
    expect(resolveSessionOptions({ ...valid, nearCache: false }).nearCache).toBeUndefined();
    expect(resolveSessionOptions({ ...valid, nearCache: true }).nearCache).toEqual({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, maxAge: 60_000 });
    expect(resolveSessionOptions({ ...valid, nearCache: { maxEntries: 50 } }).nearCache).toEqual({
      maxEntries: 50,
      maxBytes: 32 * 1024 * 1024,
      maxAge: 60_000,
    });
    expect(resolveSessionOptions({ ...valid, nearCache: { maxEntries: 5, maxBytes: 4096, maxAge: 250 } }).nearCache).toEqual({
      maxEntries: 5,
      maxBytes: 4096,
      maxAge: 250,
    });
  });

  it.each([
    ['on', 'nearCache'],
    [null, 'nearCache'],
    [[], 'nearCache'],
    [{ maxEntries: 0 }, 'nearCache.maxEntries'],
    [{ maxEntries: 1.5 }, 'nearCache.maxEntries'],
    [{ maxBytes: 100 }, 'nearCache.maxBytes'],
    [{ maxAge: -1 }, 'nearCache.maxAge'],
    [{ maxAge: '1m' }, 'nearCache.maxAge'],
    [{ maxEntry: 10 }, 'nearCache.maxEntry'],
  ])('refuses %j at boot, naming %s', (nearCache, option) => {
    expectRejected({ ...valid, nearCache }, option);
  });
});

describe('resolveSessionOptions: encryption', () => {
  const KEY = Buffer.alloc(32, 9);

  it('is off unless given; takes Buffers and base64 or base64url strings of at least 32 bytes, newest first', () => {
    expect(resolveSessionOptions(valid).encryption).toBeUndefined();
    const longer = Buffer.alloc(48, 5);
    const resolved = resolveSessionOptions({ ...valid, encryption: { keys: [KEY.toString('base64'), longer.toString('base64url'), Buffer.alloc(32, 6)] } });
    expect(resolved.encryption).toEqual({ keys: [KEY, longer, Buffer.alloc(32, 6)], acceptPlaintext: false });
    expect(resolveSessionOptions({ ...valid, encryption: { keys: [KEY], acceptPlaintext: true } }).encryption?.acceptPlaintext).toBe(true);
  });

  it.each([
    [null, 'encryption'],
    [{}, 'encryption.keys'],
    [{ keys: [] }, 'encryption.keys'],
    [{ keys: [Buffer.alloc(32, 1)], extra: 1 }, 'encryption.extra'],
    [{ keys: [Buffer.alloc(32, 1)], acceptPlaintext: 'yes' }, 'encryption.acceptPlaintext'],
    [{ keys: [Buffer.alloc(31, 1)] }, 'encryption.keys[0]'],
    [{ keys: [Buffer.alloc(32, 1), Buffer.alloc(16, 2).toString('base64')] }, 'encryption.keys[1]'],
    [{ keys: [Buffer.alloc(32, 1), 'a passphrase that is long enough but not base64!'] }, 'encryption.keys[1]'],
    [{ keys: [Buffer.alloc(32, 1), 42] }, 'encryption.keys[1]'],
    [{ keys: [Buffer.alloc(32, 1), Buffer.alloc(32, 1).toString('base64')] }, 'encryption.keys[1]'],
  ])('refuses %p at boot, naming %s', (encryption, option) => {
    expectRejected({ ...valid, encryption }, option);
  });

  it('says how many bytes a short key holds, never the key itself', () => {
    const short = Buffer.alloc(16, 2).toString('base64');
    const { message } = configError({ ...valid, encryption: { keys: [short] } });
    expect(message).toBe('SessionModule option "encryption.keys[0]" must hold at least 32 bytes (e.g. `openssl rand -base64 32`); it holds 16');
    expect(message).not.toContain(short);
  });
});

describe('resolveSessionOptions: events', () => {
  it('keeps the values given', () => {
    const events = { crossReplica: true, expired: true, enableKeyspaceEvents: true, replica: 'shop-1' };
    expect(resolveSessionOptions({ ...valid, events }).events).toEqual(events);
    expect(resolveSessionOptions({ ...valid, events: {} }).events).toMatchObject({
      crossReplica: false,
      expired: false,
      replica: `${hostname()}:${process.pid}`,
    });
  });

  it.each([
    [true, 'events'],
    [null, 'events'],
    [{ crossreplica: true }, 'events.crossreplica'],
    [{ crossReplica: 'yes' }, 'events.crossReplica'],
    [{ expired: 1 }, 'events.expired'],
    [{ enableKeyspaceEvents: 'on', expired: true }, 'events.enableKeyspaceEvents'],
    [{ enableKeyspaceEvents: true }, 'events.enableKeyspaceEvents'], // means nothing without expired
    [{ replica: '' }, 'events.replica'],
    [{ replica: 42 }, 'events.replica'],
  ])('refuses %j at boot, naming %s', (events, option) => {
    expectRejected({ ...valid, events }, option);
  });
});

describe('resolveSessionOptions: renewal', () => {
  it('is off unless given; true takes the defaults; an object keeps what it gives', () => {
    expect(resolveSessionOptions(valid).renewal).toBeUndefined();
    expect(resolveSessionOptions({ ...valid, renewal: false }).renewal).toBeUndefined();
    expect(resolveSessionOptions({ ...valid, renewal: true }).renewal).toEqual({ interval: 15 * 60_000, grace: 60_000 });
    expect(resolveSessionOptions({ ...valid, renewal: { interval: 600_000, grace: 5_000 } }).renewal).toEqual({ interval: 600_000, grace: 5_000 });
  });

  it('gives a short interval a grace of at most half of it when grace is unset', () => {
    expect(resolveSessionOptions({ ...valid, renewal: { interval: 40_000 } }).renewal).toEqual({ interval: 40_000, grace: 20_000 });
    expect(resolveSessionOptions({ ...valid, renewal: { grace: 1_000 } }).renewal).toEqual({ interval: 15 * 60_000, grace: 1_000 });
  });

  it.each([
    ['yes', 'renewal'],
    [null, 'renewal'],
    [[], 'renewal'],
    [{ interval: 0 }, 'renewal.interval'],
    [{ interval: 1.5 }, 'renewal.interval'],
    [{ interval: '15m' }, 'renewal.interval'],
    [{ grace: -1 }, 'renewal.grace'],
    [{ grace: 0 }, 'renewal.grace'],
    [{ interval: 10_000, grace: 5_001 }, 'renewal.grace'], // more than half the interval
  ])('refuses %j at boot, naming %s', (renewal, option) => {
    expectRejected({ ...valid, renewal }, option);
  });
});
