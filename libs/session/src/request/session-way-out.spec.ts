import { InternalServerErrorException } from '@nestjs/common';
import { signCookie } from '../cookie/cookie-signature';
import { SessionCookie } from '../cookie/session-cookie';
import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import type { SessionCore } from '../store/session-core';
import { attachState } from '../store/session-state';
import type { HttpPlatform, SessionRequest } from './http-platform';
import { RequestSession } from './request-session-class';
import type { RequestLifecycle, RequestSessionState } from './request-state';
import { SessionIdTransport, type IdCarrier } from './session-id-transport';
import { SessionWayOut } from './session-way-out';

const SECRET = 'the-newest-secret-of-32-characters!!';
const OLD_SECRET = 'an-older-secret-still-in-the-rotation';
const COOKIE_ID = 'id-the-request-came-with-000000000';
const NEW_ID = 'a-new-id-the-session-holds-0000000';
const RENEWED_ID = 'the-id-a-renewal-moved-it-to-00000';
const HEADER = 'X-Session-Token';

/** A response as the fake platform keeps it: what the way out wrote on it. */
interface FakeResponse {
  status: number;
  cookies: string[];
  headers: Record<string, string>;
  failed: { exception: unknown; error: unknown }[];
}

interface Options {
  /** What `platform.isHttps` answers. */
  https?: boolean;
  /** `platform.fail` throws this, when given. */
  failThrows?: unknown;
  /** What `gateway.recentlyUnavailable` answers. */
  unavailable?: boolean;
  /** What `writer.saveChanges` answers. */
  save?: () => Promise<void> | null;
  /** What `writer.abandon` answers (its removal of an index entry). */
  release?: () => Promise<void> | undefined;
  trustProxy?: boolean;
}

function wayOut(options: Options = {}) {
  const logged = { warn: [] as string[], error: [] as string[] };
  const httpsAsked: (boolean | undefined)[] = [];
  const platform = {
    appendCookie: (res: FakeResponse, value: string) => res.cookies.push(value),
    setHeader: (res: FakeResponse, name: string, value: string) => (res.headers[name] = value),
    fail: (res: FakeResponse, exception: unknown, error: unknown) => {
      if ('failThrows' in options) throw options.failThrows;
      res.failed.push({ exception, error });
    },
    statusCode: (res: FakeResponse) => res.status,
    isHttps: (_req: SessionRequest, trustProxy: boolean | undefined) => {
      httpsAsked.push(trustProxy);
      return options.https ?? false;
    },
    describe: () => 'POST /cart',
  } as unknown as HttpPlatform;
  const transport = new SessionIdTransport({ idFrom: 'both', header: HEADER, cookieName: 'sid', secrets: [SECRET, OLD_SECRET] }, platform);
  const saves: { id: string; session: object }[] = [];
  const abandoned: object[] = [];
  const core = {
    writer: {
      saveChanges: (id: string, session: object) => {
        saves.push({ id, session });
        return options.save ? options.save() : null;
      },
      abandon: (session: object) => {
        abandoned.push(session);
        return options.release?.();
      },
    },
    gateway: { recentlyUnavailable: () => options.unavailable ?? false },
    context: { settings: { absoluteTimeout: 0 } }, // no absolute deadline: a persistent cookie's expiry as `touch` slides it
  } as unknown as SessionCore;
  const logger = { warn: (message: string) => logged.warn.push(message), error: (message: string) => logged.error.push(message) };
  const out = new SessionWayOut({ cookieName: 'sid', secrets: [SECRET, OLD_SECRET], trustProxy: options.trustProxy }, transport, core, platform, logger);
  return { out, logged, saves, abandoned, httpsAsked };
}

function response(status = 200): FakeResponse {
  return { status, cookies: [], headers: {}, failed: [] };
}

/** A request holding a session under `id`, with `data`; `maxAge` makes its cookie persistent. */
function request(id: string, data: Record<string, unknown> = {}, cookie: Record<string, unknown> = {}): SessionRequest {
  const req = { sessionID: id } as SessionRequest;
  const session = new RequestSession(req) as unknown as SessionRequest['session'];
  session.cookie = new SessionCookie({ path: '/', httpOnly: true, ...cookie });
  Object.assign(session, data);
  req.session = session;
  return req;
}

function state(carrier: IdCarrier, cookieId: string | undefined, extra: Partial<RequestSessionState> = {}): RequestSessionState {
  return { phase: 'live', cookieId, carrier, ending: false, lifecycle: {} as RequestLifecycle, ...extra };
}

const signed = (id: string) => signCookie(id, SECRET);
const cookieOf = (id: string) => `sid=${encodeURIComponent(signed(id))}`;

/** Waits until the queued microtasks and promise callbacks of the way out have run. */
const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('SessionWayOut.beforeHeaders: the cookie or ID header, with the headers', () => {
  it('sends what the end prepared, even an empty ID header, without computing anything again', () => {
    const { out } = wayOut();
    const res = response();
    const req = request(NEW_ID, { cart: 1 });
    out.beforeHeaders(req, state('either', COOKIE_ID, { ending: true, setCookie: 'sid=prepared', idHeader: '' }), res);
    expect(res.cookies).toEqual(['sid=prepared']);
    expect(res.headers).toEqual({ [HEADER]: '' });
  });

  it('sends nothing the end did not prepare once the end has begun', () => {
    const { out } = wayOut();
    const res = response();
    out.beforeHeaders(request(NEW_ID, { cart: 1 }), state('either', undefined, { ending: true }), res);
    expect(res).toStrictEqual(response()); // strict: not even a header set to undefined
  });

  it('computes both for a streamed response (headers before the end): a new session with data, carried either way', () => {
    const { out } = wayOut();
    const res = response();
    out.beforeHeaders(request(NEW_ID, { cart: 1 }), state('either', undefined), res);
    expect(res.cookies).toHaveLength(1);
    expect(res.cookies[0]).toMatch(new RegExp(`^${cookieOf(NEW_ID).replace(/[.+]/g, '\\$&')}; Path=/; HttpOnly$`));
    expect(res.headers).toEqual({ [HEADER]: signed(NEW_ID) });
  });

  it('tells a header client whose session was destroyed to drop its token, and sets no cookie', () => {
    const { out } = wayOut();
    const req = request(COOKIE_ID, { cart: 1 });
    delete (req as Partial<SessionRequest>).session;
    const res = response();
    out.beforeHeaders(req, state('header', COOKIE_ID), res);
    expect(res).toStrictEqual({ ...response(), headers: { [HEADER]: '' } });
  });

  it('cuts a streamed response whose cookie was replaced by a plain object, though nothing would serialize it', async () => {
    const { out } = wayOut();
    const req = request(COOKIE_ID, { cart: 1 });
    (req.session as unknown as { cookie: unknown }).cookie = { path: '/', originalMaxAge: null };
    const res = response();
    const st = state('header', COOKIE_ID);
    out.beforeHeaders(req, st, res);
    expect(st.ending).toBe(true);
    await settled();
    expect((res.failed[0]?.error as Error)?.message).toBe(messages.notACookie('a value of type object'));
  });

  it('cuts a streamed response whose cookie cannot be written, after the headers, and lets the end save nothing', async () => {
    const { out, logged } = wayOut();
    const req = request(NEW_ID, { cart: 1 }, { path: 'x'.repeat(2000) });
    const res = response();
    const st = state('cookie', undefined, { setCookie: undefined, idHeader: 'stale' });
    out.beforeHeaders(req, st, res);
    expect(res.cookies).toEqual([]);
    expect(res.headers).toStrictEqual({});
    expect(st).toMatchObject({ ending: true, setCookie: undefined, idHeader: undefined });
    expect(res.failed).toEqual([]); // not yet: the headers are going out as this runs
    await settled();
    expect(res.failed).toHaveLength(1);
    expect(res.failed[0].error).toBeInstanceOf(SessionDataError);
    expect(res.failed[0].exception).toBeInstanceOf(InternalServerErrorException);
    expect(st.phase).toBe('failed');
    expect(logged.error).toHaveLength(1);
  });
});

describe('SessionWayOut.beforeEnd: the save, then the end', () => {
  it('finishes at once for a destroyed session, telling a header client to drop its token', () => {
    const { out, saves } = wayOut();
    const req = request(COOKIE_ID);
    delete (req as Partial<SessionRequest>).session;
    const st = state('header', COOKIE_ID);
    expect(out.beforeEnd(req, st, response(), () => 'ended')).toBe('ended');
    expect(st).toMatchObject({ ending: true, idHeader: '' });
    expect(saves).toEqual([]);
  });

  it('saves nothing for a 503 while Redis is failing, and saves a 503 Redis did not cause, or any answer while it fails', () => {
    const down = wayOut({ unavailable: true });
    expect(down.out.beforeEnd(request(COOKIE_ID, { cart: 1 }), state('cookie', COOKIE_ID), response(503), () => 'ended')).toBe('ended');
    expect(down.saves).toEqual([]);
    down.out.beforeEnd(request(COOKIE_ID, { cart: 1 }), state('cookie', COOKIE_ID), response(200), () => 'ended');
    expect(down.saves).toHaveLength(1);
    const up = wayOut({ unavailable: false });
    up.out.beforeEnd(request(COOKIE_ID, { cart: 1 }), state('cookie', COOKIE_ID), response(503), () => 'ended');
    expect(up.saves).toHaveLength(1);
  });

  it('leaves a header client its token on a 503 while Redis is failing: no empty ID header, as for a destroyed session', () => {
    const { out } = wayOut({ unavailable: true });
    const st = state('header', COOKIE_ID);
    expect(out.beforeEnd(request(COOKIE_ID, { cart: 1 }), st, response(503), () => 'ended')).toBe('ended');
    expect(st.idHeader).toBeUndefined();
  });

  it('refuses a cookie replaced by a plain object, though nothing would serialize it (a header client; a known session without an expiry)', () => {
    for (const carrier of ['header', 'cookie'] as const) {
      const { out, saves } = wayOut();
      const req = request(COOKIE_ID, { cart: 1 });
      (req.session as unknown as { cookie: unknown }).cookie = { path: '/', originalMaxAge: null };
      const res = response();
      const st = state(carrier, COOKIE_ID);
      expect(out.beforeEnd(req, st, res, jest.fn())).toBe(res);
      expect(saves).toEqual([]);
      expect((res.failed[0]?.error as Error)?.message).toBe(messages.notACookie('a value of type object'));
      expect(st.phase).toBe('failed');
    }
  });

  it('finishes without saving or touching a new session that holds nothing, and tells the writer it was abandoned', () => {
    const { out, saves, abandoned } = wayOut();
    const req = request(NEW_ID, {}, { maxAge: 60_000 });
    const expires = req.session.cookie.expires;
    const st = state('either', COOKIE_ID);
    expect(out.beforeEnd(req, st, response(), () => 'ended')).toBe('ended');
    expect(saves).toEqual([]);
    expect(abandoned).toEqual([req.session]); // a regenerate's: the ID it left ended (SessionWriter.abandon)
    expect(req.session.cookie.expires).toBe(expires);
    expect(st).toMatchObject({ ending: true, idHeader: '' });
    expect(st.setCookie).toBeUndefined();
  });

  it("waits for an abandoned session's index entry to leave before it finishes, and answers a failure of that with the error", async () => {
    let release!: () => void;
    const { out } = wayOut({ release: () => new Promise<void>((resolve) => (release = resolve)) });
    const st = state('either', COOKIE_ID);
    let ended = false;
    const res = response();
    expect(out.beforeEnd(request(NEW_ID, {}), st, res, () => (ended = true))).toBe(res);
    expect(st.saving).toBe(true);
    await Promise.resolve();
    expect(ended).toBe(false);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect({ ended, saving: st.saving }).toEqual({ ended: true, saving: false });

    const failing = wayOut({ release: () => Promise.reject(new Error('Redis away')) });
    const failed = response();
    failing.out.beforeEnd(request(NEW_ID, {}), state('either', COOKIE_ID), failed, () => 'ended');
    await new Promise((resolve) => setImmediate(resolve));
    expect(failed.failed).toHaveLength(1);
  });

  it('logs a second answer once, for the platform to drop', () => {
    const { out, logged } = wayOut();
    const st = state('cookie', COOKIE_ID);
    out.dropSecondAnswer(request(COOKIE_ID), st);
    out.dropSecondAnswer(request(COOKIE_ID), st);
    expect(st.answeredTwice).toBe(true);
    expect(logged.warn).toEqual([messages.secondAnswerDropped('POST /cart')]);
  });

  it('saves a known session with nothing of its own (its data may have been removed)', () => {
    const { out, saves } = wayOut();
    out.beforeEnd(request(COOKIE_ID), state('cookie', COOKIE_ID), response(), () => 'ended');
    expect(saves).toHaveLength(1);
  });

  it('slides a persistent cookie and sets it again, then saves under the request ID and finishes when nothing was written', () => {
    const { out, saves } = wayOut();
    jest.useFakeTimers({ now: 1_000_000 });
    try {
      const req = request(COOKIE_ID, { cart: 1 }, { maxAge: 60_000 });
      jest.setSystemTime(1_030_000);
      const st = state('cookie', COOKIE_ID);
      expect(out.beforeEnd(req, st, response(), () => 'ended')).toBe('ended');
      expect(req.session.cookie.expires!.getTime()).toBe(1_090_000);
      expect(st.setCookie).toBe(`${cookieOf(COOKIE_ID)}; Path=/; Expires=${new Date(1_090_000).toUTCString()}; HttpOnly`);
      expect(saves).toEqual([{ id: COOKIE_ID, session: req.session }]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('finishes only once the save is written, answering the response meanwhile', async () => {
    let written!: () => void;
    const { out } = wayOut({ save: () => new Promise<void>((resolve) => (written = resolve)) });
    const res = response();
    const finish = jest.fn(() => 'ended');
    expect(out.beforeEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined), res, finish)).toBe(res);
    await settled();
    expect(finish).not.toHaveBeenCalled();
    written();
    await settled();
    expect(finish).toHaveBeenCalledTimes(1);
    expect(res.failed).toEqual([]);
  });

  it('answers a failed save with its error instead, logging it with its cause, and never finishes', async () => {
    const failure = new Error('write refused', { cause: new Error('READONLY') });
    const { out, logged } = wayOut({ save: () => Promise.reject(failure) });
    const res = response();
    const finish = jest.fn();
    const st = state('either', undefined);
    expect(out.beforeEnd(request(NEW_ID, { cart: 1 }), st, res, finish)).toBe(res);
    expect(st.setCookie).toBeDefined();
    await settled();
    expect(finish).not.toHaveBeenCalled();
    expect(res.failed).toEqual([{ exception: failure, error: failure }]);
    expect(st).toMatchObject({ phase: 'failed', failure, setCookie: undefined, idHeader: undefined });
    expect(logged.error).toEqual(['Saving the session at the end of POST /cart failed: write refused (READONLY)']);
  });

  it('logs a failure without a cause, or with a cause without a message, with nothing after its message', async () => {
    const bare = wayOut({ save: () => Promise.reject(new Error('no cause')) });
    bare.out.beforeEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined), response(), jest.fn());
    const silent = wayOut({ save: () => Promise.reject(new Error('empty cause', { cause: new Error('') })) });
    silent.out.beforeEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined), response(), jest.fn());
    await settled();
    expect(bare.logged.error).toEqual(['Saving the session at the end of POST /cart failed: no cause']);
    expect(silent.logged.error).toEqual(['Saving the session at the end of POST /cart failed: empty cause']);
  });

  it('answers a session that cannot be checked with the error, before any save', () => {
    const { out, saves, logged } = wayOut();
    const req = request(NEW_ID, { cart: 1 });
    (req.session as unknown as { cookie: unknown }).cookie = { path: '/' };
    const res = response();
    const st = state('cookie', undefined);
    expect(out.beforeEnd(req, st, res, jest.fn())).toBe(res);
    expect(saves).toEqual([]);
    expect(res.failed).toHaveLength(1);
    expect(res.failed[0].error).toBeInstanceOf(SessionDataError);
    expect(st.phase).toBe('failed');
    expect(logged.error).toHaveLength(1);
  });

  it('logs a failure to answer the failure, rather than throwing', async () => {
    const { out, logged } = wayOut({ save: () => Promise.reject(new Error('write refused')), failThrows: new Error('socket gone') });
    out.beforeEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined), response(), jest.fn());
    await settled();
    expect(logged.error).toEqual([
      'Saving the session at the end of POST /cart failed: write refused',
      'Answering the failure of POST /cart failed too: socket gone',
    ]);
  });

  it('logs and answers a rejection with no value at all, naming it undefined', async () => {
    const { out, logged } = wayOut({ save: () => Promise.reject(undefined), failThrows: undefined }); // eslint-disable-line @typescript-eslint/prefer-promise-reject-errors
    const st = state('cookie', undefined);
    out.beforeEnd(request(NEW_ID, { cart: 1 }), st, response(), jest.fn());
    await settled();
    expect(st.phase).toBe('failed');
    expect(logged.error).toEqual([
      'Saving the session at the end of POST /cart failed: undefined',
      'Answering the failure of POST /cart failed too: undefined',
    ]);
  });

  it('logs an end that throws after the save, rather than rejecting', async () => {
    const { out, logged } = wayOut({ save: () => Promise.resolve() });
    out.beforeEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined), response(), () => {
      throw new Error('write after end');
    });
    await settled();
    expect(logged.error).toEqual(['Ending a response after saving its session failed: write after end']);
    out.beforeEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined), response(), () => {
      throw undefined; // eslint-disable-line @typescript-eslint/only-throw-error
    });
    await settled();
    expect(logged.error[1]).toBe('Ending a response after saving its session failed: undefined');
  });
});

describe('SessionWayOut: a session a renewal moved to a new ID while the request ran', () => {
  function renewed(renewedId: string, data: Record<string, unknown> = { cart: 1 }, cookie: Record<string, unknown> = {}) {
    const req = request(COOKIE_ID, data, cookie);
    attachState(req.session, { stored: new Map(), createdAt: 1, refreshed: true, renewedId });
    return req;
  }

  it.each([
    ['with nothing written', () => null],
    ['after the save', () => Promise.resolve()],
  ])('announces the new ID, by cookie and header, %s', async (_when, save) => {
    const { out } = wayOut({ save });
    const req = renewed(RENEWED_ID);
    const st = state('either', COOKIE_ID);
    const finish = jest.fn(() => 'ended');
    out.beforeEnd(req, st, response(), finish);
    await settled();
    expect(finish).toHaveBeenCalledTimes(1);
    expect(req.sessionID).toBe(RENEWED_ID);
    expect(st.setCookie).toMatch(new RegExp(`^${cookieOf(RENEWED_ID).replace(/[.+]/g, '\\$&')};`));
    expect(st.idHeader).toBe(signed(RENEWED_ID));
  });

  it('changes nothing when the renewed ID is the one the request holds', () => {
    const { out } = wayOut();
    const req = renewed(COOKIE_ID);
    const st = state('either', COOKIE_ID);
    out.beforeEnd(req, st, response(), () => 'ended');
    expect(req.sessionID).toBe(COOKIE_ID);
    expect(st).toMatchObject({ setCookie: undefined, idHeader: undefined });
  });

  it('does not prepare the cookie again after the save when the renewed ID is the one the request holds', async () => {
    // The way in already took the renewed ID (req.sessionID): the cookie prepared before the save stands.
    const { out, logged } = wayOut({ save: () => Promise.resolve() });
    const req = renewed(COOKIE_ID, { cart: 1 }, { secure: true });
    req.sessionID = COOKIE_ID;
    const finish = jest.fn();
    out.beforeEnd(req, state('cookie', 'the-id-before-the-renewal-00000000'), response(), finish);
    await settled();
    expect(finish).toHaveBeenCalledTimes(1);
    expect(logged.error).toEqual([messages.secureCookieOverHttp('POST /cart')]); // said once, not again after the save
  });

  it('answers the error, and never finishes, when the cookie of the new ID cannot be written', async () => {
    // A known session without an expiry: no cookie before the save, so the new ID's is the first one serialized.
    const failing = () => {
      const req = renewed(RENEWED_ID);
      (req.session.cookie as unknown as { serialize(): string }).serialize = () => {
        throw new Error('bad cookie');
      };
      return req;
    };
    const sync = wayOut();
    const res = response();
    const finish = jest.fn();
    const st = state('cookie', COOKIE_ID);
    expect(sync.out.beforeEnd(failing(), st, res, finish)).toBe(res);
    expect(finish).not.toHaveBeenCalled();
    expect(res.failed).toHaveLength(1);
    expect(res.failed[0].error).toBeInstanceOf(SessionDataError);
    expect(st.phase).toBe('failed');

    const later = wayOut({ save: () => Promise.resolve() });
    const res2 = response();
    const finishLater = jest.fn();
    expect(later.out.beforeEnd(failing(), state('cookie', COOKIE_ID), res2, finishLater)).toBe(res2);
    await settled();
    expect(finishLater).not.toHaveBeenCalled();
    expect(res2.failed).toHaveLength(1);
  });
});

describe('SessionWayOut: the cookie', () => {
  const cookieAfterEnd = (out: SessionWayOut, req: SessionRequest, st: RequestSessionState) => {
    out.beforeEnd(req, st, response(), () => undefined);
    return st.setCookie;
  };

  it('sets none for a header client, whatever it holds', () => {
    const { out } = wayOut();
    expect(cookieAfterEnd(out, request(NEW_ID, { cart: 1 }, { maxAge: 60_000 }), state('header', undefined))).toBeUndefined();
  });

  it('sets one for a new session with data, and for a known session only when its cookie is persistent', () => {
    const { out } = wayOut();
    expect(cookieAfterEnd(out, request(NEW_ID, { cart: 1 }), state('cookie', COOKIE_ID))).toMatch(/^sid=/);
    expect(cookieAfterEnd(out, request(COOKIE_ID, { cart: 1 }), state('cookie', COOKIE_ID))).toBeUndefined();
    expect(cookieAfterEnd(out, request(COOKIE_ID, { cart: 1 }, { maxAge: 1000 }), state('cookie', COOKIE_ID))).toMatch(/^sid=/);
  });

  it('signs with the newest secret only', () => {
    const { out } = wayOut();
    const cookie = cookieAfterEnd(out, request(NEW_ID, { cart: 1 }), state('cookie', undefined))!;
    expect(cookie.startsWith(`${cookieOf(NEW_ID)};`)).toBe(true);
    expect(cookie).not.toContain(encodeURIComponent(signCookie(NEW_ID, OLD_SECRET)));
  });

  it('drops a Secure cookie over plain HTTP, saying why, and sets it over HTTPS, asking with the trustProxy option', () => {
    const http = wayOut({ trustProxy: true });
    expect(cookieAfterEnd(http.out, request(NEW_ID, { cart: 1 }, { secure: true }), state('cookie', undefined))).toBeUndefined();
    expect(http.logged.error).toEqual([messages.secureCookieOverHttp('POST /cart')]);
    expect(http.httpsAsked).toEqual([true]);
    const https = wayOut({ https: true });
    expect(cookieAfterEnd(https.out, request(NEW_ID, { cart: 1 }, { secure: true }), state('cookie', undefined))).toMatch(/; Secure$/);
    expect(https.logged.error).toEqual([]);
    const plain = wayOut();
    expect(cookieAfterEnd(plain.out, request(NEW_ID, { cart: 1 }), state('cookie', undefined))).toBeDefined();
    expect(plain.httpsAsked).toEqual([]); // not asked for a cookie that is not Secure
  });

  it('answers a cookie that cannot be serialized with a SessionDataError naming the reason', () => {
    const { out } = wayOut();
    const res = response();
    const req = request(NEW_ID, { cart: 1 });
    (req.session.cookie as unknown as { serialize(): string }).serialize = () => {
      throw new TypeError('option domain is invalid');
    };
    out.beforeEnd(req, state('cookie', undefined), res, jest.fn());
    const error = res.failed[0].error as SessionDataError;
    expect(error).toBeInstanceOf(SessionDataError);
    expect(error.message).toBe(messages.unwritableCookie('option domain is invalid'));
    expect(error.key).toBe('cookie');
  });

  it.each([['plain text'], [undefined], [null]])('names a thrown value that is not an Error (%p) by its string form', (thrown) => {
    const { out } = wayOut();
    const res = response();
    const req = request(NEW_ID, { cart: 1 });
    (req.session.cookie as unknown as { serialize(): string }).serialize = () => {
      throw thrown; // eslint-disable-line @typescript-eslint/only-throw-error
    };
    out.beforeEnd(req, state('cookie', undefined), res, jest.fn());
    expect(res.failed[0].error).toBeInstanceOf(SessionDataError);
    expect((res.failed[0].error as Error).message).toBe(messages.unwritableCookie(String(thrown)));
  });
});

describe('SessionWayOut: the ID header', () => {
  const headerAfterEnd = (req: SessionRequest, st: RequestSessionState) => {
    wayOut().out.beforeEnd(req, st, response(), () => undefined);
    return st.idHeader;
  };

  it('sends none to a cookie client, nor for an unchanged ID', () => {
    expect(headerAfterEnd(request(NEW_ID, { cart: 1 }), state('cookie', undefined))).toBeUndefined();
    expect(headerAfterEnd(request(COOKIE_ID, { cart: 1 }), state('header', COOKIE_ID))).toBeUndefined();
  });

  it('sends the signed new ID of a session with data; an empty value when the ID it came with is dead; nothing when it came with none', () => {
    expect(headerAfterEnd(request(NEW_ID, { cart: 1 }), state('header', COOKIE_ID))).toBe(signed(NEW_ID));
    expect(headerAfterEnd(request(NEW_ID), state('header', COOKIE_ID))).toBe('');
    expect(headerAfterEnd(request(NEW_ID), state('header', undefined))).toBeUndefined();
  });

  it('counts only what the session holds itself, not its cookie nor what it inherits, as data', () => {
    // A session of an express-session copy whose methods are plain assignments, so enumerable: for…in lists them.
    const enumerableMethods: Record<string, () => void> = {};
    for (const name of ['touch', 'resetMaxAge', 'save', 'reload', 'destroy', 'regenerate']) enumerableMethods[name] = () => undefined;
    const session = Object.create(enumerableMethods) as SessionRequest['session'];
    session.cookie = new SessionCookie({ path: '/' });
    const req = { sessionID: NEW_ID, session };
    expect(headerAfterEnd(req, state('header', COOKIE_ID))).toBe('');
    expect(headerAfterEnd(request(NEW_ID, { cookie2: 1 }), state('header', COOKIE_ID))).toBe(signed(NEW_ID));
  });
});
