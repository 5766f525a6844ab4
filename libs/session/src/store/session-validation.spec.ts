import { Cookie, Session } from 'express-session';
import { SessionCookie } from '../cookie/session-cookie';
import { SessionDataError } from '../errors/session-data.error';
import { MAX_EXPIRY_MS } from '../redis/session-fields';
import { checkSessionObject, checkedExpiry, describe as describeValue, isForbiddenKey, trustSessionPrototype } from './session-validation';

type SessionClass = new (req: object, data?: object) => object;
type CookieClass = new (options?: object) => object;

/** A session as express-session builds it: the request's ID, the data, a Cookie of the same copy. */
function sessionOf(SessionType: SessionClass, CookieType: CookieClass, data: object = {}): Record<string, unknown> {
  return new SessionType({ sessionID: 'id' }, { ...data, cookie: new CookieType({ maxAge: 60_000 }) }) as Record<string, unknown>;
}

function refusal(session: object, requireCookieClass = true): SessionDataError | undefined {
  try {
    checkSessionObject(session, requireCookieClass);
    return undefined;
  } catch (error) {
    if (error instanceof SessionDataError) return error;
    throw error;
  }
}

/**
 * Another copy of express-session, as npm installs one when an app pins a range other than the
 * library's: the same source loaded again, so its classes are distinct objects of the same shape.
 */
function secondCopy(): { Session: SessionClass; Cookie: CookieClass } {
  let copy: { Session: SessionClass; Cookie: CookieClass } | undefined;
  jest.isolateModules(() => {
    copy = jest.requireActual<{ Session: SessionClass; Cookie: CookieClass }>('express-session');
  });
  return copy!;
}

/**
 * Classes written apart from express-session with its 1.17 shape (the methods on the Session's
 * prototype, the Cookie's accessors and serializers): shape, not source, is what is checked.
 */
function lookalike(): { Session: SessionClass; Cookie: CookieClass } {
  function LookalikeSession(this: Record<string, unknown>, req: { sessionID: string }, data?: object) {
    Object.defineProperty(this, 'id', { value: req.sessionID });
    Object.assign(this, data);
  }
  for (const name of ['touch', 'resetMaxAge', 'save', 'reload', 'destroy', 'regenerate']) {
    Object.defineProperty(LookalikeSession.prototype, name, {
      value: function (this: object) {
        return this;
      },
      writable: true,
      configurable: true,
    });
  }
  function LookalikeCookie(this: Record<string, unknown>, options?: { maxAge?: number }) {
    this.path = '/';
    this.originalMaxAge = options?.maxAge ?? null;
  }
  LookalikeCookie.prototype = {
    set expires(date: Date | undefined) {
      (this as { _expires?: Date })._expires = date;
    },
    get expires(): Date | undefined {
      return (this as { _expires?: Date })._expires;
    },
    set maxAge(ms: number) {
      this.expires = new Date(Date.now() + ms);
    },
    get maxAge(): number | undefined {
      return this.expires && this.expires.valueOf() - Date.now();
    },
    serialize: () => '',
    toJSON: () => ({}),
  };
  return { Session: LookalikeSession as unknown as SessionClass, Cookie: LookalikeCookie as unknown as CookieClass };
}

const OWN = { Session: Session as unknown as SessionClass, Cookie: Cookie as unknown as CookieClass };

describe('checkSessionObject', () => {
  describe.each([
    ['the library’s express-session', () => OWN],
    ['a second copy of express-session', secondCopy],
    ['classes of the same shape', lookalike],
  ])('a session built by %s', (_, classes) => {
    it('is accepted, with or without a Cookie required', () => {
      const { Session: SessionType, Cookie: CookieType } = classes();
      const session = sessionOf(SessionType, CookieType, { cart: ['tea'] });
      expect(refusal(session)).toBeUndefined();
      expect(refusal(session, false)).toBeUndefined();
      expect(refusal(sessionOf(SessionType, CookieType))).toBeUndefined(); // the prototype, once known
    });

    it('is refused once JSON replaced its prototype through "__proto__"', () => {
      const { Session: SessionType, Cookie: CookieType } = classes();
      const session = sessionOf(SessionType, CookieType);
      Object.assign(session, JSON.parse('{"__proto__": {"isAdmin": true, "save": "x"}}'));
      expect(Object.getPrototypeOf(session)).not.toBe(SessionType.prototype); // the attack took
      expect(refusal(session)).toMatchObject({ key: '__proto__' });
      expect(refusal(session)?.message).toContain('Session key "__proto__" is not allowed');
    });

    it('is refused when its prototype has a layer inserted or carries data beside the methods', () => {
      const { Session: SessionType, Cookie: CookieType } = classes();
      const layered = sessionOf(SessionType, CookieType);
      Object.setPrototypeOf(layered, Object.create(SessionType.prototype as object, { isAdmin: { value: true } }));
      expect(refusal(layered)).toMatchObject({ key: '__proto__' });

      const withData = sessionOf(SessionType, CookieType);
      const prototype = Object.defineProperties({}, Object.getOwnPropertyDescriptors(SessionType.prototype));
      Object.setPrototypeOf(withData, Object.assign(prototype, { isAdmin: true }));
      expect(refusal(withData)).toMatchObject({ key: '__proto__' });
    });

    it('is refused when its cookie is not a cookie', () => {
      const { Session: SessionType, Cookie: CookieType } = classes();
      for (const cookie of ['not a cookie', null, undefined, 42]) {
        const session = sessionOf(SessionType, CookieType);
        session.cookie = cookie;
        expect(refusal(session, false)).toMatchObject({ key: 'cookie' });
      }
      const replaced = sessionOf(SessionType, CookieType);
      replaced.cookie = 'not a cookie';
      expect(refusal(replaced)?.message).toContain(
        'must stay the session\'s own express-session Cookie (change its fields, do not replace it); got a string ("not a cookie")',
      );
      // A plain object, or one whose prototype JSON replaced, has no accessors: no Cookie.
      const plain = sessionOf(SessionType, CookieType);
      plain.cookie = { originalMaxAge: 1000, expires: new Date(), path: '/' };
      expect(refusal(plain)).toMatchObject({ key: 'cookie' });
      expect(refusal(plain, false)).toBeUndefined(); // the store's API takes plain objects
      const tricked = sessionOf(SessionType, CookieType);
      Object.assign(tricked.cookie as object, JSON.parse('{"__proto__": {"expires": 1, "maxAge": 2, "serialize": 3, "toJSON": 4}}'));
      expect(refusal(tricked)).toMatchObject({ key: 'cookie' });
    });

    it('is refused when its cookie has an originalMaxAge that is not a finite number', () => {
      const { Session: SessionType, Cookie: CookieType } = classes();
      const session = sessionOf(SessionType, CookieType);
      (session.cookie as { originalMaxAge: unknown }).originalMaxAge = Infinity;
      expect(refusal(session)).toMatchObject({ key: 'cookie' });
    });

    it('is refused when its cookie path or domain is not a string a browser keeps', () => {
      const { Session: SessionType, Cookie: CookieType } = classes();
      for (const field of ['path', 'domain']) {
        for (const value of [['/', 'a'.repeat(40)], { toString: () => '/' }, 42, '/'.repeat(1025)]) {
          const session = sessionOf(SessionType, CookieType);
          (session.cookie as Record<string, unknown>)[field] = value;
          const error = refusal(session, false);
          expect(error).toMatchObject({ key: 'cookie' });
          expect(error?.message).toContain(`"${field}"`);
        }
        const fine = sessionOf(SessionType, CookieType);
        (fine.cookie as Record<string, unknown>)[field] = field === 'path' ? '/'.repeat(1024) : 'shop.example';
        expect(refusal(fine)).toBeUndefined();
        (fine.cookie as Record<string, unknown>)[field] = undefined;
        expect(refusal(fine)).toBeUndefined();
      }
    });
  });

  it('accepts a plain object with a plain cookie when no Cookie is required, as express-session’s stores do', () => {
    expect(refusal({ cookie: { originalMaxAge: null } }, false)).toBeUndefined();
    expect(refusal({ cookie: { originalMaxAge: null } }, true)).toMatchObject({ key: 'cookie' });
  });

  it('refuses an object without a prototype, and a session whose prototype is a bare object', () => {
    expect(refusal(Object.assign(Object.create(null) as object, { cookie: new Cookie() }))).toMatchObject({ key: '__proto__' });
    expect(refusal(Object.assign(Object.create({}) as object, { cookie: new Cookie() }))).toMatchObject({ key: '__proto__' });
  });

  it('refuses a prototype of methods only that lacks some of express-session’s, and a subclass not trusted', () => {
    const partial = { save() {}, touch() {} };
    expect(refusal(Object.assign(Object.create(partial) as object, { cookie: new Cookie() }))).toMatchObject({ key: '__proto__' });

    // Every method overridden: the shape of a Session, one layer above it. Only a trusted subclass passes.
    class Overriding extends (Session as unknown as SessionClass) {}
    for (const name of ['touch', 'resetMaxAge', 'save', 'reload', 'destroy', 'regenerate']) {
      Object.defineProperty(Overriding.prototype, name, { value: () => undefined, writable: true, configurable: true });
    }
    const session = new Overriding({ sessionID: 'id' }, { cookie: new Cookie() });
    expect(refusal(session)).toMatchObject({ key: '__proto__' });
    trustSessionPrototype(Overriding.prototype);
    expect(refusal(session)).toBeUndefined();
  });

  it('accepts the cookie of a subclass of express-session’s Cookie, as the library’s own SessionCookie is', () => {
    const session = sessionOf(OWN.Session, SessionCookie);
    expect(Object.getPrototypeOf(session.cookie)).not.toBe(Cookie.prototype);
    expect(refusal(session)).toBeUndefined();
  });

  it('refuses a cookie whose prototype lacks the accessors or the serializers of express-session’s Cookie', () => {
    const accessor = { get: () => undefined, set: () => undefined, configurable: true };
    const method = { value: () => '', writable: true, configurable: true };
    const shapes: Record<string, PropertyDescriptorMap> = {
      'data for the accessors': { expires: { value: 1 }, maxAge: { value: 2 }, serialize: method, toJSON: method },
      'getters without setters': { expires: { get: () => undefined }, maxAge: { get: () => undefined }, serialize: method, toJSON: method },
      'setters without getters': { expires: { set: () => undefined }, maxAge: { set: () => undefined }, serialize: method, toJSON: method },
      'no maxAge': { expires: accessor, serialize: method, toJSON: method },
      'no serializers': { expires: accessor, maxAge: accessor },
      'no toJSON': { expires: accessor, maxAge: accessor, serialize: method },
    };
    for (const [shape, descriptors] of Object.entries(shapes)) {
      const session = sessionOf(OWN.Session, OWN.Cookie);
      session.cookie = Object.assign(Object.create(Object.defineProperties({}, descriptors)) as object, { originalMaxAge: null, path: '/' });
      expect([shape, refusal(session)?.key]).toEqual([shape, 'cookie']);
      expect([shape, refusal(session, false)]).toEqual([shape, undefined]); // the store's API: any object
    }
    const whole = sessionOf(OWN.Session, OWN.Cookie);
    whole.cookie = Object.create(Object.defineProperties({}, { expires: accessor, maxAge: accessor, serialize: method, toJSON: method })) as object;
    expect(refusal(whole)).toBeUndefined();
  });

  it('refuses an originalMaxAge that is a string of digits, naming the field', () => {
    const session = sessionOf(OWN.Session, OWN.Cookie);
    (session.cookie as { originalMaxAge: unknown }).originalMaxAge = '60000';
    const error = refusal(session);
    expect(error).toMatchObject({ key: 'cookie' });
    expect(error?.message).toContain('"originalMaxAge" must be a finite number of ms or null; got a string ("60000")');
  });
});

describe('checkSessionObject and the cookie of a session', () => {
  it('lets a persistent cookie and a browser-session one through, and refuses an originalMaxAge that is no number', () => {
    const CookieClass = Cookie as unknown as new (options?: object) => Cookie;
    expect(() => checkSessionObject({ cookie: new CookieClass({ maxAge: 60_000 }) }, true)).not.toThrow();
    expect(() => checkSessionObject({ cookie: new CookieClass() }, true)).not.toThrow();
    expect(() => checkSessionObject({ cookie: { originalMaxAge: 'soon' } }, false)).toThrow(SessionDataError);
    expect(() => checkSessionObject({ cookie: { originalMaxAge: Number.POSITIVE_INFINITY } }, false)).toThrow(SessionDataError);
  });
});

describe('isForbiddenKey', () => {
  it('refuses the names a session inherits and prototype tricks, and allows the app’s own', () => {
    for (const key of ['save', 'touch', 'regenerate', 'constructor', 'toString', '__proto__', 'prototype']) expect(isForbiddenKey(key)).toBe(true);
    for (const key of ['cart', 'user', 'csrfToken', 'id_']) expect(isForbiddenKey(key)).toBe(false);
  });

  it('refuses the members a trusted subclass adds, once trusted', () => {
    class Extended extends (Session as unknown as new () => object) {
      lookup(): void {}
    }
    expect(isForbiddenKey('lookup')).toBe(false);
    trustSessionPrototype(Extended.prototype);
    expect(isForbiddenKey('lookup')).toBe(true);
    expect(isForbiddenKey('cart')).toBe(false);
  });
});

describe('checkedExpiry', () => {
  function refusalOf(at: number, source: unknown = at): SessionDataError | undefined {
    try {
      checkedExpiry(at, source);
      return undefined;
    } catch (error) {
      if (error instanceof SessionDataError) return error;
      throw error;
    }
  }

  it('answers the expiry in whole ms, rounded up, from 1970 to the last ms of 9999', () => {
    expect(checkedExpiry(0, new Date(0))).toBe(0);
    expect(checkedExpiry(1_700_000_000_000.2, 'a date')).toBe(1_700_000_000_001);
    expect(checkedExpiry(MAX_EXPIRY_MS, 'a date')).toBe(MAX_EXPIRY_MS);
  });

  it('refuses, on the key "cookie" and naming what it was given, an expiry before 1970, after 9999 or not a number', () => {
    for (const at of [-1, MAX_EXPIRY_MS + 1, NaN, Infinity, -Infinity]) {
      const error = refusalOf(at, new Date(at));
      expect(error).toMatchObject({ key: 'cookie' });
      expect(error?.message).toContain('"expires" must be a valid date');
    }
    expect(refusalOf(NaN, new Date(NaN))?.message).toContain('got an invalid date');
    expect(refusalOf(-1, -1)?.message).toContain('got the number -1');
  });
});

describe('describe (a value, for messages)', () => {
  it('names null, undefined, dates, numbers and strings (their first 40 characters) by value, anything else by type', () => {
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue(new Date(Date.UTC(2026, 11, 6)))).toBe('the date 2026-12-06T00:00:00.000Z');
    expect(describeValue(new Date(NaN))).toBe('an invalid date');
    expect(describeValue(42)).toBe('the number 42');
    expect(describeValue('/shop')).toBe('a string ("/shop")');
    expect(describeValue(`${'a'.repeat(40)}beyond`)).toBe(`a string ("${'a'.repeat(40)}")`);
    expect(describeValue({ path: '/' })).toBe('a value of type object');
    expect(describeValue(['/'])).toBe('a value of type object');
    expect(describeValue(true)).toBe('a value of type boolean');
  });
});
