import Redis, { Cluster } from 'ioredis';
import { resolveSessionOptions } from './resolve-options';
import { resolveStoreOptions } from './resolve-store-options';
import { configErrorOf, expectRejectedBy } from '../../../../test/support/config-errors';

/*
 * What only the standalone store checks (its client and logger). The options it shares with the
 * module are in resolve-storage-options.spec.ts, run through both resolvers.
 */

// Lazy clients: validated, never connected.
const client = new Redis({ lazyConnect: true });
afterAll(() => client.disconnect());

const configError = (options: unknown) => configErrorOf(resolveStoreOptions, options);
const expectRejected = (options: unknown, option: string) => expectRejectedBy(resolveStoreOptions, options, option);

describe('resolveStoreOptions', () => {
  it('keeps the client as it is, without connecting it, and logs to console by default', () => {
    const resolved = resolveStoreOptions({ client });
    expect(resolved.client).toBe(client);
    expect(resolved.logger).toBe(console);
    expect(client.status).toBe('wait');
  });

  it('takes a Cluster client too', () => {
    const cluster = new Cluster([{ host: '127.0.0.1', port: 7000 }], { lazyConnect: true });
    try {
      expect(resolveStoreOptions({ client: cluster }).client).toBe(cluster);
      expect(cluster.status).toBe('wait');
    } finally {
      cluster.disconnect();
    }
  });

  it('keeps a logger with warn() and error()', () => {
    const logger = { warn: jest.fn(), error: jest.fn() };
    expect(resolveStoreOptions({ client, logger }).logger).toBe(logger);
  });

  it('resolves the shared options and only those beside client and logger: no module feature', () => {
    expect(Object.keys(resolveStoreOptions({ client })).sort()).toEqual(
      [
        'absoluteTimeout',
        'client',
        'cookie',
        'durability',
        'encryption',
        'idleTimeout',
        'logger',
        'maxSessionBytes',
        'hashMaxListpackValue',
        'prefix',
        'redisDeadline',
        'touchAfter',
      ].sort(),
    );
  });

  it("resolves the shared options exactly as the module does, with the module's defaults", () => {
    const shared = {
      prefix: 'app:',
      cookie: { name: 'app.sid', sameSite: 'strict' as const, persistent: true },
      idleTimeout: 10 * 60_000,
      absoluteTimeout: false as const,
      redisDeadline: 500,
      durability: { replicas: 1, timeout: 400 },
      encryption: { keys: [Buffer.alloc(32, 3)] },
    };
    const { client: _client, logger: _logger, ...store } = resolveStoreOptions({ client, ...shared });
    const module = resolveSessionOptions({ secret: 'a-secret-of-at-least-32-characters!!', redis: 'redis://sessions.example.internal', ...shared });
    expect(store.touchAfter).toBe(60_000);
    expect(store.cookie.maxAge).toBe(10 * 60_000);
    expect(Object.fromEntries(Object.keys(store).map((key) => [key, module[key as keyof typeof module]]))).toEqual(store);
  });

  it.each([[undefined], [null], ['redis://localhost'], [42]])('refuses options %p that are not an object, naming them', (options) => {
    expectRejected(options, 'options');
  });

  it.each([
    ['missing', {}],
    ['null', { client: null }],
    ['a URL', { client: 'redis://localhost:6379' }],
    ['ioredis options', { client: { host: 'localhost', port: 6379 } }],
    ['an object without defineCommand', { client: { get() {}, set() {} } }],
  ])('refuses a client that is %s', (_what, options) => {
    expectRejected(options, 'client');
    expect(configError(options).message).toMatch(/"client" must be an ioredis Redis or Cluster instance$/);
  });

  it.each([
    ['null', null],
    ['a string', 'console'],
    ['without error()', { warn() {} }],
    ['without warn()', { error() {} }],
    ['with methods that are not functions', { warn: true, error: true }],
  ])('refuses a logger that is %s', (_what, logger) => {
    expectRejected({ client, logger }, 'logger');
  });

  it('refuses an option it does not have, naming it: the names from before 1.0 and the module-only ones', () => {
    for (const option of ['ttl', 'refreshOnRead', 'commandTimeout', 'lastSeenInterval', 'users', 'secret']) {
      expectRejected({ client, [option]: 1 }, option);
      expect(configError({ client, [option]: 1 }).message).toContain('is not an option of RedisSessionStore; the options are client, logger, prefix');
    }
  });

  it('checks the client before the shared options, so a missing client is what it names first', () => {
    expectRejected({ idleTimeout: -1 }, 'client');
    expectRejected({ client, idleTimeout: -1 }, 'idleTimeout');
  });
});
