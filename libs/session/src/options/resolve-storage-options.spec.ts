import Redis from 'ioredis';
import { SessionConfigError } from '../errors/session-config.error';
import { resolveSessionOptions } from './resolve-options';
import { STORAGE_OPTIONS } from './resolve-storage-options';
import { resolveStoreOptions } from './resolve-store-options';
import type { ResolvedStorageOptions } from './resolved-storage-options';
import { SESSION_DEFAULTS, defaultTouchAfter } from './session-defaults';

/*
 * The options SessionModule and RedisSessionStore share: every test runs through both resolvers, so
 * the two surfaces cannot drift apart in a name, a default or a boot error.
 */

const SECRET = 'a-secret-of-at-least-32-characters!!';
// Only validated, never connected to.
const REDIS_URL = 'redis://sessions.example.internal:6380';
const client = new Redis({ lazyConnect: true });
afterAll(() => client.disconnect());

type Resolve = (options: Record<string, unknown>) => ResolvedStorageOptions;
const resolvers: [string, Resolve][] = [
  ['resolveSessionOptions', (options) => resolveSessionOptions({ secret: SECRET, redis: REDIS_URL, ...options })],
  ['resolveStoreOptions', (options) => resolveStoreOptions({ client, ...options })],
];

/** The shared fields of a resolved options object, the rest left out. */
function storagePart(resolved: ResolvedStorageOptions): Record<string, unknown> {
  return Object.fromEntries(STORAGE_OPTIONS.map((field) => [field, resolved[field as keyof ResolvedStorageOptions]]));
}

describe('defaultTouchAfter', () => {
  it('is a tenth of the idle timeout, at most a minute', () => {
    expect(defaultTouchAfter(1_000)).toBe(100);
    expect(defaultTouchAfter(100_000)).toBe(10_000);
    expect(defaultTouchAfter(600_000)).toBe(60_000);
    expect(defaultTouchAfter(30 * 60_000)).toBe(60_000);
  });
});

describe.each(resolvers)('%s: the shared options', (_name, resolve) => {
  /** The SessionConfigError these options throw. */
  function configError(options: Record<string, unknown>): SessionConfigError {
    try {
      resolve(options);
    } catch (error) {
      if (error instanceof SessionConfigError) return error;
      throw error;
    }
    throw new Error(`no error for ${JSON.stringify(options)}`);
  }

  function expectRejected(options: Record<string, unknown>, option: string): void {
    const error = configError(options);
    expect(error.option).toBe(option);
    expect(error.name).toBe('SessionConfigError');
    expect(error.message).toContain(`"${option}"`);
  }

  describe('defaults', () => {
    it('fills in every default, with the documented values', () => {
      expect(storagePart(resolve({}))).toEqual({
        prefix: 'sess:',
        cookie: { name: 'sid', httpOnly: true, sameSite: 'lax', secure: 'auto', path: '/', domain: undefined, maxAge: undefined },
        idleTimeout: 1_800_000, // 30 min
        absoluteTimeout: 43_200_000, // 12 h
        touchAfter: 60_000, // a tenth of 30 min, capped at 1 min
        redisDeadline: 1_000,
        durability: undefined,
        encryption: undefined,
        maxSessionBytes: 65_536,
        hashMaxListpackValue: 64,
      });
    });

    it('takes each default from SESSION_DEFAULTS at the path of its option', () => {
      const resolved = resolve({});
      const { cookie } = SESSION_DEFAULTS;
      expect(resolved.prefix).toBe(SESSION_DEFAULTS.prefix);
      expect(resolved.cookie).toEqual({ name: cookie.name, httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, secure: cookie.secure, path: cookie.path });
      expect(resolved.idleTimeout).toBe(SESSION_DEFAULTS.idleTimeout);
      expect(resolved.absoluteTimeout).toBe(SESSION_DEFAULTS.absoluteTimeout);
      expect(resolved.touchAfter).toBe(defaultTouchAfter(SESSION_DEFAULTS.idleTimeout));
      expect(resolved.redisDeadline).toBe(SESSION_DEFAULTS.redisDeadline);
      expect(resolved.maxSessionBytes).toBe(SESSION_DEFAULTS.maxSessionBytes);
      expect(resolved.hashMaxListpackValue).toBe(64);
      expect(resolved.cookie.maxAge !== undefined).toBe(SESSION_DEFAULTS.cookie.persistent);
    });

    it('keeps the values given', () => {
      const given = {
        prefix: 'shop:sess:',
        cookie: { name: '__Host-sid', httpOnly: false, sameSite: 'strict', secure: true, path: '/app', domain: 'example.com' },
        idleTimeout: 5 * 60_000,
        absoluteTimeout: 60 * 60_000,
        touchAfter: 10_000,
        redisDeadline: 250,
        durability: { replicas: 2, timeout: 100 },
        maxSessionBytes: 4_096,
        hashMaxListpackValue: 512,
      };
      expect(storagePart(resolve(given))).toEqual({ ...given, cookie: { ...given.cookie, maxAge: undefined }, encryption: undefined });
    });
  });

  it('takes 0 for hashMaxListpackValue: every value stored whole', () => {
    expect(resolve({ hashMaxListpackValue: 0 }).hashMaxListpackValue).toBe(0);
    expect(resolve({ hashMaxListpackValue: 16 }).hashMaxListpackValue).toBe(16);
  });

  it.each([
    [{ name: 'connect.sid', domain: '.example.com', path: '/app/v1.2~x' }],
    [{ name: "__Secure-s!#$%&'*+-.^_`|~9", domain: 'localhost', path: '/a=b/@:,' }],
    [{ name: 'SID', domain: 'shop-1.eu.example.co.uk', path: '/' }],
  ])('takes the cookie names, domains and paths a Set-Cookie header can carry: %p', (cookie) => {
    expect(resolve({ cookie }).cookie).toMatchObject(cookie);
  });

  describe('cookie.persistent', () => {
    it('gives the cookie a Max-Age of the idle timeout, the default one or the one given', () => {
      expect(resolve({ cookie: { persistent: true } }).cookie.maxAge).toBe(1_800_000);
      expect(resolve({ cookie: { persistent: true }, idleTimeout: 120_000 }).cookie.maxAge).toBe(120_000);
    });

    it('leaves the cookie without Max-Age (a browser-session cookie) when false or unset', () => {
      expect(resolve({ cookie: { persistent: false } }).cookie.maxAge).toBeUndefined();
      expect(resolve({ cookie: { name: 'sid' }, idleTimeout: 120_000 }).cookie.maxAge).toBeUndefined();
    });
  });

  describe('timeouts', () => {
    it('derives touchAfter from the idle timeout: a tenth, at most a minute', () => {
      expect(resolve({ idleTimeout: 5 * 60_000 }).touchAfter).toBe(30_000);
      expect(resolve({ idleTimeout: 100_000, cookie: { persistent: true } }).touchAfter).toBe(10_000);
      expect(resolve({ idleTimeout: 24 * 60 * 60_000, absoluteTimeout: false }).touchAfter).toBe(60_000);
    });

    it('takes a touchAfter from 0 to just below the idle timeout', () => {
      expect(resolve({ touchAfter: 0 }).touchAfter).toBe(0);
      expect(resolve({ idleTimeout: 60_000, touchAfter: 59_999 }).touchAfter).toBe(59_999);
    });

    it.each([[-1], ['1000'], [Number.NaN], [Infinity], [null], [true], [30 * 60_000], [40 * 60_000]])(
      'refuses touchAfter %p (must be from 0 to below idleTimeout)',
      (touchAfter) => {
        expectRejected({ touchAfter }, 'touchAfter');
      },
    );

    it('refuses a touchAfter equal to a given idle timeout, naming both', () => {
      const error = configError({ idleTimeout: 60_000, touchAfter: 60_000 });
      expect(error.option).toBe('touchAfter');
      expect(error.message).toMatch(/"touchAfter" must be .* below "idleTimeout" \(60000 ms\); got 60000$/);
    });

    it('turns absoluteTimeout: false into 0 (none)', () => {
      expect(resolve({ absoluteTimeout: false }).absoluteTimeout).toBe(0);
    });

    it('refuses an absoluteTimeout shorter than the idle timeout, the default one too, and takes an equal one', () => {
      const error = configError({ idleTimeout: 60_000, absoluteTimeout: 30_000 });
      expect(error.option).toBe('absoluteTimeout');
      expect(error.message).toMatch(/"absoluteTimeout" \(30000 ms\) must not be shorter than "idleTimeout" \(60000 ms\)/);
      expectRejected({ absoluteTimeout: 29 * 60_000 }, 'absoluteTimeout'); // below the default 30 min
      expect(resolve({ idleTimeout: 60_000, absoluteTimeout: 60_000 }).absoluteTimeout).toBe(60_000);
    });

    it('takes redisDeadline 0 as no deadline', () => {
      expect(resolve({ redisDeadline: 0 }).redisDeadline).toBe(0);
    });

    it("refuses a redisDeadline longer than Node's timers hold (they would fire after 1 ms)", () => {
      expect(resolve({ redisDeadline: 2_147_483_647 }).redisDeadline).toBe(2_147_483_647);
      expect(configError({ redisDeadline: 2_147_483_648 }).message).toMatch(/"redisDeadline".*up to 2147483647.*got 2147483648/);
    });
  });

  describe('invalid values name the option', () => {
    it.each([[''], ['has space'], ['tab\t'], [42]])('prefix: %p', (prefix) => {
      expectRejected({ prefix }, 'prefix');
    });

    it.each([
      ['cookie', null],
      ['cookie', 'sid'],
      ['cookie', []],
      ['cookie.sameSite', { sameSite: 'sometimes' }],
      ['cookie.sameSite', { sameSite: 'Lax' }],
      ['cookie.secure', { secure: 'yes' }],
      ['cookie.secure', { secure: 1 }],
      ['cookie.path', { path: 'shop' }],
      ['cookie.path', { path: 5 }],
      ['cookie.path', { path: '' }],
      ['cookie.name', { name: '' }],
      ['cookie.name', { name: 'my sid' }],
      ['cookie.name', { name: 'sid;' }],
      ['cookie.name', { name: 'séance' }],
      ['cookie.domain', { domain: 'exa mple.com' }],
      ['cookie.domain', { domain: 'example.com;' }],
      ['cookie.domain', { domain: '-example.com' }],
      ['cookie.path', { path: '/a;b' }],
      ['cookie.path', { path: '/ä' }],
      ['cookie.path', { path: '/a\nb' }],
      ['cookie.httpOnly', { httpOnly: 'true' }],
      ['cookie.domain', { domain: '' }],
      ['cookie.persistent', { persistent: 'yes' }],
      ['cookie.persistent', { persistent: 1 }],
      ['cookie.maxAge', { maxAge: 60_000 }], // removed: `persistent` gives the cookie the idle timeout
      ['cookie.expires', { expires: new Date() }],
    ])('%s: %p', (option, cookie) => {
      expectRejected({ cookie }, option);
    });

    const durations: unknown[][] = [[0], [-1], [1.5], ['1000'], [Number.NaN], [Infinity], [null]];

    it.each(durations)('idleTimeout: %p', (idleTimeout) => {
      expectRejected({ idleTimeout }, 'idleTimeout');
    });

    it.each([...durations, [true]])('absoluteTimeout: %p', (absoluteTimeout) => {
      expectRejected({ absoluteTimeout }, 'absoluteTimeout');
    });

    it.each([[-1], [1.5], ['1000'], [Number.NaN], [Infinity], [null], [false]])('redisDeadline: %p', (redisDeadline) => {
      expectRejected({ redisDeadline }, 'redisDeadline');
    });

    it.each([[-1], [1], [15], [64.5], ['64'], [Infinity], [null]])('hashMaxListpackValue: %p', (hashMaxListpackValue) => {
      expectRejected({ hashMaxListpackValue }, 'hashMaxListpackValue');
    });

    it.each([[0], [-1], [1.5], ['65536'], [Infinity]])('maxSessionBytes: %p', (maxSessionBytes) => {
      expectRejected({ maxSessionBytes }, 'maxSessionBytes');
    });

    it('says what was wrong with the value', () => {
      expect(configError({ redisDeadline: -5 }).message).toMatch(
        / option "redisDeadline" must be a whole number of milliseconds up to 2147483647 \(about 24.8 days; 0 for no deadline\); got -5$/,
      );
      expect(configError({ idleTimeout: -5 }).message).toMatch(/ option "idleTimeout" must be a positive whole number of milliseconds; got -5$/);
      expect(configError({ cookie: { secure: 'yes' } }).message).toMatch(/"cookie\.secure" must be one of true, false, "auto"; got "yes"$/);
    });
  });

  describe('durability', () => {
    it('is off unless given, and kept as given when valid', () => {
      expect(resolve({}).durability).toBeUndefined();
      expect(resolve({ durability: { replicas: 1, timeout: 50 } }).durability).toEqual({ replicas: 1, timeout: 50 });
    });

    it('needs a timeout that ends before redisDeadline, the default one or the one given; any timeout without a deadline', () => {
      expect(resolve({ durability: { replicas: 1, timeout: 999 } }).durability).toEqual({ replicas: 1, timeout: 999 });
      expectRejected({ durability: { replicas: 1, timeout: 1_000 } }, 'durability.timeout'); // the default deadline is 1 s
      expect(configError({ redisDeadline: 200, durability: { replicas: 1, timeout: 200 } }).message).toMatch(/"durability\.timeout".*below "redisDeadline"/);
      expect(resolve({ redisDeadline: 200, durability: { replicas: 1, timeout: 199 } }).durability?.timeout).toBe(199);
      expect(resolve({ redisDeadline: 0, durability: { replicas: 1, timeout: 60_000 } }).durability?.timeout).toBe(60_000);
    });

    it.each([
      [null, 'durability'],
      ['yes', 'durability'],
      [{ replicas: 0, timeout: 50 }, 'durability.replicas'],
      [{ replicas: 1.5, timeout: 50 }, 'durability.replicas'],
      [{ timeout: 50 }, 'durability.replicas'],
      [{ replicas: 1 }, 'durability.timeout'],
      [{ replicas: 1, timeout: 0 }, 'durability.timeout'],
      [{ replicas: 1, timeout: 2.5 }, 'durability.timeout'],
      [{ replicas: 1, timeout: 50, wait: true }, 'durability.wait'],
    ])('refuses %j at boot, naming %s', (durability, option) => {
      expectRejected({ durability }, option);
    });
  });

  describe('encryption', () => {
    const KEY = Buffer.alloc(32, 9);

    it('is off unless given; takes Buffers and base64 or base64url strings of at least 32 bytes, newest first', () => {
      expect(resolve({}).encryption).toBeUndefined();
      const longer = Buffer.alloc(48, 5);
      const resolved = resolve({ encryption: { keys: [KEY.toString('base64'), longer.toString('base64url'), Buffer.alloc(32, 6)] } });
      expect(resolved.encryption).toEqual({ keys: [KEY, longer, Buffer.alloc(32, 6)], acceptPlaintext: false });
      expect(resolve({ encryption: { keys: [KEY], acceptPlaintext: true } }).encryption?.acceptPlaintext).toBe(true);
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
      // eslint-disable-next-line no-sparse-arrays -- a hole, as a trailing comma too many leaves
      [{ keys: [Buffer.alloc(32, 1), , Buffer.alloc(32, 2)] }, 'encryption.keys[1]'],
    ])('refuses %p at boot, naming %s', (encryption, option) => {
      expectRejected({ encryption }, option);
    });

    it('says how many bytes a short key holds, never the key itself', () => {
      const short = Buffer.alloc(16, 2).toString('base64');
      const { message } = configError({ encryption: { keys: [short] } });
      expect(message).toMatch(/ option "encryption\.keys\[0\]" must hold at least 32 bytes \(e\.g\. `openssl rand -base64 32`\); it holds 16$/);
      expect(message).not.toContain(short);
    });
  });
});
