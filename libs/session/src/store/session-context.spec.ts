import { Cookie } from 'express-session';
import { SessionDataError } from '../errors/session-data.error';
import { resolveStoreOptions } from '../options/resolve-store-options';
import { FIELD } from '../redis/session-fields';
import { SessionObservers } from '../redis/session-observer';
import { SessionContext } from './session-context';
import { attachState, stateOf, type SessionState } from './session-state';

/*
 * What every part of the store shares (session-context.ts): key names, the cookie template, the
 * expiry a write gives, deletion with and without renewal, and when a renewal is due.
 */

const IDLE = 30 * 60_000;
const NOW = 1_800_000_000_000;

function context(options: Record<string, unknown> = {}, renewal?: { interval: number; grace: number }) {
  const gateway = {
    deleteKey: jest.fn(() => Promise.resolve(1)),
    destroySession: jest.fn(() => Promise.resolve<{ deleted: number; sealedSuccessor: string | undefined }>({ deleted: 1, sealedSuccessor: undefined })),
  };
  const logger = { warn: jest.fn(), error: jest.fn() };
  const resolved = resolveStoreOptions({ client: { defineCommand: () => undefined } as never, idleTimeout: IDLE, prefix: 'app:', ...options });
  return { context: new SessionContext({ ...resolved, renewal }, gateway as never, new SessionObservers(), logger), gateway, logger };
}

function withCookie(cookie: object) {
  const CookieClass = Cookie as unknown as new (options?: object) => Cookie;
  return { cookie: new CookieClass(cookie) };
}

afterEach(() => jest.restoreAllMocks());

describe('SessionContext', () => {
  it('names keys under the prefix, and reads a digest back from a key', () => {
    const { context: c } = context();
    expect(c.prefix).toBe('app:');
    expect(c.redisKeyOfDigest('d1g35t')).toBe('app:d1g35t');
    expect(c.digestOfKey('app:d1g35t')).toBe('d1g35t');
    expect(c.redisKeyOf('the-id')).toMatch(/^app:/);
    expect(c.digestOfKey(c.redisKeyOf('the-id'))).not.toContain('the-id');
  });

  it("slides by the idle window, or a persistent cookie's maxAge, with the options' touchAfter and absolute timeout", () => {
    expect(context({ touchAfter: 5_000, absoluteTimeout: 60 * 60_000 }).context.slides).toEqual({
      window: IDLE,
      touchAfter: 5_000,
      absoluteTimeout: 60 * 60_000,
    });
    expect(context({ cookie: { persistent: true }, absoluteTimeout: false }).context.slides).toMatchObject({ window: IDLE, absoluteTimeout: 0 });
  });

  it("keeps the template cookie's settings as JSON, leaving out what is unset, with 'auto' Secure as plain HTTP", () => {
    const template = JSON.parse(context({ cookie: { secure: 'auto', sameSite: 'strict' } }).context.cookieTemplateJson!) as Record<string, unknown>;
    expect(template).toMatchObject({ secure: false, sameSite: 'strict', path: '/', httpOnly: true, originalMaxAge: null });
    expect(template).not.toHaveProperty('domain');
    expect(template).not.toHaveProperty('expires');
    const persistent = JSON.parse(context({ cookie: { persistent: true, secure: true } }).context.cookieTemplateJson!) as Record<string, unknown>;
    expect(persistent).toMatchObject({ secure: true, originalMaxAge: IDLE, expires: true });
  });

  it("compares a Secure cookie with a Secure template under 'auto' only: each protocol's cookie is the module's", () => {
    const auto = context({ cookie: { secure: 'auto' } }).context;
    const secureTemplate = auto.cookieTemplateFor({ secure: true });
    expect(JSON.parse(secureTemplate!)).toEqual({ ...JSON.parse(auto.cookieTemplateJson!), secure: true });
    expect(auto.cookieTemplateFor({ secure: false })).toBe(auto.cookieTemplateJson);
    expect(auto.cookieTemplateFor(undefined)).toBe(auto.cookieTemplateJson);
    const plain = context({ cookie: { secure: false } }).context;
    expect(plain.cookieTemplateFor({ secure: true })).toBe(plain.cookieTemplateJson); // app code's Secure is its own setting
  });

  it('builds the template with the idle window as its originalMaxAge, though the clock moved while it was built', () => {
    let now = NOW;
    jest.spyOn(Date, 'now').mockImplementation(() => now++); // express-session's Cookie would read IDLE - 1 back
    const template = JSON.parse(context({ cookie: { persistent: true } }).context.cookieTemplateJson!) as Record<string, unknown>;
    expect(template.originalMaxAge).toBe(IDLE);
  });

  describe('expiryOf', () => {
    it("gives the idle window from now, or the cookie's own expiry, never past the absolute deadline", () => {
      const { context: c } = context({ absoluteTimeout: 60 * 60_000 });
      expect(c.expiryOf(withCookie({}), NOW, NOW)).toBe(NOW + IDLE);
      expect(c.expiryOf(withCookie({ expires: new Date(NOW + 5_000) }), NOW, NOW)).toBe(NOW + 5_000);
      expect(c.expiryOf(withCookie({}), NOW - 50 * 60_000, NOW)).toBe(NOW + 10 * 60_000);
      expect(c.expiryOf(withCookie({ expires: new Date(NOW + 2 * 60 * 60_000) }), NOW, NOW)).toBe(NOW + 60 * 60_000);
      expect(c.expiryOf({} as never, NOW, NOW)).toBe(NOW + IDLE); // a session whose cookie app code dropped
      const none = context({ absoluteTimeout: false }).context;
      expect(none.expiryOf(withCookie({}), NOW - 50 * 60 * 60_000, NOW)).toBe(NOW + IDLE);
    });

    it('refuses an expiry no cookie can carry, naming the cookie', () => {
      const { context: c } = context();
      const session = withCookie({});
      (session.cookie as unknown as { _expires: unknown })._expires = new Date(Number.NaN);
      expect(() => c.expiryOf(session, NOW, NOW)).toThrow(SessionDataError);
    });
  });

  it('logs a corrupt session or value with its digest cut short, the session then absent', () => {
    const { context: c, logger } = context();
    expect(c.ignoreCorrupt('app:0123456789abcdef', 'field ":c" is missing')).toBeNull();
    expect(logger.warn).toHaveBeenLastCalledWith(expect.stringContaining('Ignoring corrupt session 01234567… in Redis (field ":c" is missing)'));
    c.ignoreCorruptKey('app:0123456789abcdef', 'cart');
    expect(logger.warn).toHaveBeenLastCalledWith(expect.stringContaining('session key "cart" of session 01234567…'));
    c.ignoreCorruptKey(undefined, 'cart');
    expect(logger.warn).toHaveBeenLastCalledWith(expect.stringContaining('of session ?… in Redis'));
    // A value that does not open: logged once per session, by the sealing.
    c.ignoreUnopenableKey('app:fedcba9876543210', 'user', 'field "user" does not authenticate');
    expect(logger.warn).toHaveBeenLastCalledWith(expect.stringContaining('session key "user" of session fedcba98…'));
    c.ignoreUnopenableKey('app:fedcba9876543210', 'cart', 'again');
    expect(logger.warn).toHaveBeenCalledTimes(4);
  });

  it('deletes a session outright, or behind a tombstone for the grace while renewal is on, answering whether it existed and was renewed', async () => {
    const plain = context();
    expect(await plain.context.deleteSession('app:k')).toEqual({ deleted: 1, renewed: false });
    expect(plain.gateway.deleteKey).toHaveBeenCalledWith('app:k');
    expect(plain.gateway.destroySession).not.toHaveBeenCalled();
    const renewed = context({}, { interval: 60_000, grace: 5_000 });
    renewed.gateway.destroySession.mockResolvedValueOnce({ deleted: 0, sealedSuccessor: undefined });
    expect(await renewed.context.deleteSession('app:k')).toEqual({ deleted: 0, renewed: false });
    renewed.gateway.destroySession.mockResolvedValueOnce({ deleted: 1, sealedSuccessor: 'sealed' });
    expect(await renewed.context.deleteSession('app:k')).toEqual({ deleted: 1, renewed: true });
    expect(renewed.gateway.destroySession).toHaveBeenCalledWith('app:k', 5_000);
    expect(renewed.gateway.deleteKey).not.toHaveBeenCalled();
  });

  it('gives a session never read a state of its own, created now and stored nowhere, and keeps the state of one read', () => {
    jest.spyOn(Date, 'now').mockReturnValue(NOW);
    const { context: c } = context();
    const fresh = {};
    expect(c.stateFor(fresh)).toEqual({ stored: null, createdAt: NOW, refreshed: false });
    expect(stateOf(fresh)).toBe(c.stateFor(fresh));
    const read = {};
    const state = attachState(read, { stored: new Map(), createdAt: 1, refreshed: true });
    expect(c.stateFor(read)).toBe(state);
  });

  describe('renewalDue', () => {
    const state = (issuedAt: number | undefined, createdAt = NOW - 10_000): SessionState => ({
      stored: issuedAt === undefined ? new Map() : new Map([[FIELD.issuedAt, String(issuedAt)]]),
      createdAt,
      refreshed: false,
    });

    it('is never due with renewal off', () => {
      expect(context().context.renewalDue(state(0), NOW)).toBe(false);
    });

    it('is due once the ID is as old as the interval, from when it was issued, or created for a session stored before renewal', () => {
      const { context: c } = context({}, { interval: 60_000, grace: 5_000 });
      expect(c.renewalDue(state(NOW - 59_999), NOW)).toBe(false);
      expect(c.renewalDue(state(NOW - 60_000), NOW)).toBe(true);
      expect(c.renewalDue(state(undefined, NOW - 60_000), NOW)).toBe(true);
      expect(c.renewalDue(state(undefined, NOW - 59_999), NOW)).toBe(false);
      expect(c.renewalDue({ stored: null, createdAt: NOW - 60_000, refreshed: false }, NOW)).toBe(true);
    });

    it('is due that much earlier when asked early, and reads the clock when not given a time', () => {
      const { context: c } = context({}, { interval: 60_000, grace: 5_000 });
      expect(c.renewalDue(state(NOW - 55_000), NOW, 5_000)).toBe(true);
      expect(c.renewalDue(state(NOW - 54_999), NOW, 5_000)).toBe(false);
      jest.spyOn(Date, 'now').mockReturnValue(NOW + 1);
      expect(c.renewalDue(state(NOW - 59_999))).toBe(true);
    });
  });
});
