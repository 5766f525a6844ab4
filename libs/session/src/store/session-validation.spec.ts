import { Cookie, Session } from 'express-session';
import { SessionDataError } from '../errors/session-data.error';
import { checkSessionObject, isForbiddenKey } from './session-validation';

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
});

describe('isForbiddenKey', () => {
  it('refuses the names a session inherits and prototype tricks, and allows the app’s own', () => {
    for (const key of ['save', 'touch', 'regenerate', 'constructor', 'toString', '__proto__', 'prototype']) expect(isForbiddenKey(key)).toBe(true);
    for (const key of ['cart', 'user', 'csrfToken', 'id_']) expect(isForbiddenKey(key)).toBe(false);
  });
});
