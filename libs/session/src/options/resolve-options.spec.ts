import Redis, { Cluster } from 'ioredis';
import { hostname } from 'node:os';
import { resolveSessionOptions } from './resolve-options';
import { SESSION_DEFAULTS } from './session-defaults';
import type { SessionModuleOptions, SessionUserId } from './session-options.interface';
import { configErrorOf, expectRejectedBy } from '../../../../test/support/config-errors';

/*
 * SessionModule's own options. Those it shares with RedisSessionStore (cookie, timeouts, durability,
 * encryption, ...) are in resolve-storage-options.spec.ts; nearCache, renewal and events in
 * resolve-feature-options.spec.ts.
 */

const SECRET = 'a-secret-of-at-least-32-characters!!';
const OLD_SECRET = 'the-previous-secret-also-32-chars-long';
// Only validated, never connected to.
const REDIS_URL = 'redis://sessions.example.internal:6380';
const valid: SessionModuleOptions = { secret: SECRET, redis: REDIS_URL };

const configError = (options: unknown) => configErrorOf(resolveSessionOptions, options);
const expectRejected = (options: unknown, option: string) => expectRejectedBy(resolveSessionOptions, options, option);

describe('SESSION_DEFAULTS', () => {
  it('holds the documented defaults at the paths of their options', () => {
    expect(SESSION_DEFAULTS).toEqual({
      prefix: 'sess:',
      cookie: { name: 'sid', httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/', persistent: false },
      idFrom: 'cookie',
      header: 'X-Session-Token',
      idleTimeout: 1_800_000,
      absoluteTimeout: 43_200_000,
      redisDeadline: 1_000,
      maxSessionBytes: 65_536,
      hashMaxListpackValue: 64,
      updateRetries: 20,
      users: { maxSessions: Infinity, onLimit: 'evict-oldest' },
      renewal: { interval: 900_000, grace: 60_000 },
      nearCache: { maxEntries: 10_000, maxBytes: 33_554_432, maxEntryAge: 60_000 },
      events: { crossReplica: false, expired: false },
      sockets: { allowedOrigins: [] },
    });
  });
});

describe('resolveSessionOptions: defaults', () => {
  it('fills in every default, with the documented values', () => {
    expect(resolveSessionOptions(valid)).toEqual({
      secrets: [SECRET],
      redis: REDIS_URL,
      prefix: 'sess:',
      cookie: { name: 'sid', httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/', domain: undefined, maxAge: undefined },
      idFrom: { cookie: true },
      idleTimeout: 1_800_000,
      absoluteTimeout: 43_200_000,
      touchAfter: 60_000,
      redisDeadline: 1_000,
      durability: undefined,
      encryption: undefined,
      maxSessionBytes: 65_536,
      hashMaxListpackValue: 64,
      users: { id: undefined, maxSessions: 0, onLimit: 'evict-oldest' },
      updateRetries: 20,
      renewal: undefined,
      trustProxy: undefined,
      forRoutes: undefined,
      exclude: [],
      metrics: undefined,
      tracing: undefined,
      nearCache: undefined,
      events: { crossReplica: false, expired: 'off', replica: `${hostname()}:${process.pid}` },
      sockets: { allowedOrigins: [] },
    });
  });

  it('takes its own defaults from SESSION_DEFAULTS at the path of each option', () => {
    const resolved = resolveSessionOptions(valid);
    expect(resolved.users.onLimit).toBe(SESSION_DEFAULTS.users.onLimit);
    expect(SESSION_DEFAULTS.users.maxSessions).toBe(Infinity);
    expect(resolved.users.maxSessions).toBe(0); // Infinity resolves to 0, "no limit"
    expect(resolved.updateRetries).toBe(SESSION_DEFAULTS.updateRetries);
    expect(SESSION_DEFAULTS.idFrom).toBe('cookie');
    expect(resolved.idFrom).toEqual({ cookie: true });
    expect(resolveSessionOptions({ ...valid, idFrom: {} }).idFrom.header).toBe(SESSION_DEFAULTS.header);
    expect(resolved.events).toMatchObject({ crossReplica: SESSION_DEFAULTS.events.crossReplica, expired: 'off' });
    expect(SESSION_DEFAULTS.events.expired).toBe(false);
  });

  it('keeps the values given', () => {
    const id: SessionUserId = (session) => session.account?.id;
    const resolved = resolveSessionOptions({
      secret: [SECRET, OLD_SECRET],
      redis: { host: 'sessions.example.internal', port: 6380, lazyConnect: true },
      idFrom: { header: 'X-Api-Session', cookie: true },
      users: { id, maxSessions: 3, onLimit: 'reject' },
      updateRetries: 0,
      trustProxy: true,
      forRoutes: ['shop/*'],
      exclude: ['health'],
      tracing: false,
    });
    expect(resolved).toMatchObject({
      secrets: [SECRET, OLD_SECRET],
      redis: { host: 'sessions.example.internal', port: 6380, lazyConnect: true },
      idFrom: { header: 'X-Api-Session', cookie: true },
      users: { maxSessions: 3, onLimit: 'reject' },
      updateRetries: 0,
      trustProxy: true,
      forRoutes: ['shop/*'],
      exclude: ['health'],
      tracing: false,
    });
    expect(resolved.users.id).toBe(id);
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

describe('resolveSessionOptions: idFrom', () => {
  it.each([
    ['unset', undefined, { cookie: true }],
    ["'cookie'", 'cookie', { cookie: true }],
    ['{} (the header, default name)', {}, { header: 'X-Session-Token', cookie: false }],
    ['{ header }', { header: 'X-Api-Session' }, { header: 'X-Api-Session', cookie: false }],
    ['{ header, cookie: false }', { header: 'x-api-session', cookie: false }, { header: 'x-api-session', cookie: false }],
    ['{ cookie: true } (both, default header name)', { cookie: true }, { header: 'X-Session-Token', cookie: true }],
    ['{ header, cookie: true }', { header: 'X-Api-Session', cookie: true }, { header: 'X-Api-Session', cookie: true }],
  ])('resolves %s to where the ID travels, the header name keeping its case for responses', (_what, idFrom, expected) => {
    expect(resolveSessionOptions({ ...valid, idFrom: idFrom as SessionModuleOptions['idFrom'] }).idFrom).toEqual(expected);
  });

  it.each([['header'], ['both'], ['Cookie'], [''], [true], [null], [42], [[]]])('refuses idFrom %p, naming idFrom', (idFrom) => {
    expectRejected({ ...valid, idFrom }, 'idFrom');
  });

  it.each([
    [''],
    ['X Session'],
    ['X-Session:'],
    ['X-Sessión'],
    [42],
    [false],
    ['Cookie'],
    ['set-cookie'],
    ['Authorization'],
    ['X-CSRF-Token'],
    ['Content-Length'],
    ['content-type'],
    ['Host'],
    ['Transfer-Encoding'],
    ['Connection'],
    ['Origin'],
    ['X-Forwarded-Proto'],
  ])('refuses the header name %p, naming idFrom.header', (header) => {
    expectRejected({ ...valid, idFrom: { header } }, 'idFrom.header');
  });

  it('refuses a header name given as null rather than taking the default name', () => {
    expectRejected({ ...valid, idFrom: { header: null } }, 'idFrom.header');
  });

  it('names the other keys of idFrom', () => {
    expectRejected({ ...valid, idFrom: { header: 'X-Token', cookie: 'yes' } }, 'idFrom.cookie');
    expectRejected({ ...valid, idFrom: { name: 'X-Token' } }, 'idFrom.name');
    expect(configError({ ...valid, idFrom: { headers: 'X-Token' } }).message).toMatch(/"idFrom\.headers" is not an option; the options are header, cookie$/);
  });

  it('says why a taken header is refused', () => {
    expect(configError({ ...valid, idFrom: { header: 'Authorization' } }).message).toMatch(/"idFrom\.header" must not be "Authorization"/);
  });
});

describe('resolveSessionOptions: users', () => {
  it('turns maxSessions: Infinity into 0 (no limit), and keeps onLimit beside a limit', () => {
    expect(resolveSessionOptions({ ...valid, users: { maxSessions: Infinity } }).users).toEqual({ maxSessions: 0, onLimit: 'evict-oldest' });
    expect(resolveSessionOptions({ ...valid, users: { maxSessions: 1, onLimit: 'evict-oldest' } }).users).toEqual({ maxSessions: 1, onLimit: 'evict-oldest' });
    expect(resolveSessionOptions({ ...valid, users: {} }).users).toEqual({ maxSessions: 0, onLimit: 'evict-oldest' });
  });

  it.each([[0], [-3], [2.5], ['3'], [Number.NaN], [null]])('refuses maxSessions %p, naming users.maxSessions', (maxSessions) => {
    expectRejected({ ...valid, users: { maxSessions } }, 'users.maxSessions');
  });

  it.each([['drop'], ['evict-newest'], [true]])('refuses onLimit %p, naming users.onLimit', (onLimit) => {
    expectRejected({ ...valid, users: { maxSessions: 3, onLimit } }, 'users.onLimit');
  });

  it('refuses onLimit without a limit, since nothing would apply it', () => {
    expectRejected({ ...valid, users: { onLimit: 'reject' } }, 'users.onLimit');
    expectRejected({ ...valid, users: { maxSessions: Infinity, onLimit: 'reject' } }, 'users.onLimit');
    expect(configError({ ...valid, users: { onLimit: 'reject' } }).message).toMatch(/"users\.onLimit" only applies with "users\.maxSessions"/);
  });

  it.each([['user.id'], [{ id: 1 }], [null], [true]])('refuses id %p, naming users.id', (id) => {
    expectRejected({ ...valid, users: { id } }, 'users.id');
  });

  it.each([
    [null, 'users'],
    ['ada', 'users'],
    [[], 'users'],
    [{ userId: () => 1 }, 'users.userId'],
    [{ maxSessionsPerUser: 3 }, 'users.maxSessionsPerUser'],
  ])('refuses users %p, naming %s', (users, option) => {
    expectRejected({ ...valid, users }, option);
  });
});

describe('resolveSessionOptions: invalid options name the option', () => {
  it('refuses options that are not an object', () => {
    expectRejected(null, 'options');
    expectRejected('secret', 'options');
  });

  it.each([['commandTimeout'], ['lastSeenInterval'], ['header'], ['userId'], ['maxSessionsPerUser'], ['onLimit'], ['ttl'], ['refreshOnRead'], ['client']])(
    'refuses the top-level option %s, which does not exist, naming it',
    (option) => {
      expectRejected({ ...valid, [option]: 1_000 }, option);
    },
  );

  it("points a removed option's user to the current names", () => {
    const { message } = configError({ ...valid, commandTimeout: 1_000 });
    expect(message).toMatch(/^SessionModule option "commandTimeout" is not an option of SessionModule; the options are /);
    expect(message).toContain('redisDeadline');
    expect(message).toContain('touchAfter');
  });

  it.each([
    ['missing', undefined, 'secret'],
    ['too short', 'short-secret', 'secret'],
    ['31 characters', 'x'.repeat(31), 'secret'],
    ['not a string', 12345, 'secret'],
    ['an empty array', [], 'secret'],
    ['an array with a short element', [SECRET, 'short'], 'secret[1]'],
    ['an array with a non-string element', [42, SECRET], 'secret[0]'],
    // eslint-disable-next-line no-sparse-arrays -- a hole, as a comma too many leaves
    ['an array with a hole', [SECRET, , SECRET], 'secret[1]'],
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

  it.each([[-1], [1.5], ['3'], [Infinity]])('updateRetries: %p', (updateRetries) => {
    expectRejected({ ...valid, updateRetries }, 'updateRetries');
  });

  it('trustProxy, forRoutes, exclude, tracing and metrics', () => {
    expectRejected({ ...valid, trustProxy: 'yes' }, 'trustProxy');
    expectRejected({ ...valid, forRoutes: 'shop/*' }, 'forRoutes');
    expectRejected({ ...valid, exclude: { path: 'health' } }, 'exclude');
    expectRejected({ ...valid, exclude: ['health', null] }, 'exclude[1]');
    expectRejected({ ...valid, exclude: [{ method: 0 }] }, 'exclude[0]');
    expectRejected({ ...valid, exclude: [class Controller {}] }, 'exclude[0]');
    expectRejected({ ...valid, forRoutes: [5] }, 'forRoutes[0]');
    expectRejected({ ...valid, forRoutes: [''] }, 'forRoutes[0]');
    const controller = class CartController {} as never; // Nest's forRoutes takes a controller too, untyped here
    expect(resolveSessionOptions({ ...valid, forRoutes: ['shop/*', { path: 'cart', method: 0 }, controller] }).forRoutes).toHaveLength(3);
    expectRejected({ ...valid, tracing: 'on' }, 'tracing');
    expectRejected({ ...valid, metrics: 'yes' }, 'metrics');
    expectRejected({ ...valid, metrics: { bucket: [1] } }, 'metrics.bucket');
  });

  it('says what was wrong with the value', () => {
    expect(configError({ ...valid, updateRetries: -5 }).message).toBe('SessionModule option "updateRetries" must be a whole number of at least 0; got -5');
    expect(configError({ ...valid, secret: 'short' }).message).toMatch(/at least 32 characters/);
  });
});

describe('resolveSessionOptions: sockets', () => {
  it('keeps the allowed origins given, a trailing slash dropped', () => {
    const resolved = resolveSessionOptions({ ...valid, sockets: { allowedOrigins: ['https://app.example', 'http://localhost:5173/'] } });
    expect(resolved.sockets).toEqual({ allowedOrigins: ['https://app.example', 'http://localhost:5173'] });
  });

  it("keeps each origin as a browser's Origin header spells it: lower case, no default port", () => {
    const given = ['https://Partner.Example', 'HTTPS://partner.example/', 'https://partner.example:443', 'http://localhost:80', 'http://localhost:5173'];
    const resolved = resolveSessionOptions({ ...valid, sockets: { allowedOrigins: given } });
    expect(resolved.sockets.allowedOrigins).toEqual([
      'https://partner.example',
      'https://partner.example',
      'https://partner.example',
      'http://localhost',
      'http://localhost:5173',
    ]);
  });

  it.each([
    [{ allowedOrigins: 'https://app.example' }, 'sockets.allowedOrigins'],
    [{ allowedOrigins: ['https://app.example?x=1'] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: ['https://app.example/?'] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: ['https://app.example#top'] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: ['https://user:pass@app.example'] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: ['https://app.example//'] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: [42] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: ['https://app.example', 'https://app.example/path'] }, 'sockets.allowedOrigins[1]'],
    [{ allowedOrigins: ['app.example'] }, 'sockets.allowedOrigins[0]'],
    [{ allowedOrigins: ['*'] }, 'sockets.allowedOrigins[0]'],
    [{ origins: [] }, 'sockets.origins'],
    ['yes', 'sockets'],
  ])('refuses sockets %p, naming %s', (sockets, option) => {
    expectRejected({ ...valid, sockets }, option);
  });
});
