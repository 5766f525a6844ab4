import { ServiceUnavailableException } from '@nestjs/common';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import type { SessionRequest } from './http-platform';
import { authenticatedByHeaderAlone, carriedByHeader, clearSessionCookie, ensureSession, existingSession } from './request-session';
import { OUTSIDE_COOKIE_PATH, STATE, type RequestSessionState } from './request-state';

/** A request with a lifecycle state of the given phase and carrier; `cookieSent` is what the transport finds. */
function requestWith(state: Partial<RequestSessionState>, cookieSent = false) {
  const clearCookie = jest.fn();
  const sentCookie = jest.fn(() => cookieSent);
  const full = { phase: 'live', cookieId: undefined, carrier: 'cookie', ending: false, ...state, lifecycle: { transport: { sentCookie }, clearCookie } };
  const req: Record<string | symbol, unknown> = { [STATE]: full };
  return { req, clearCookie, sentCookie };
}

const session = { views: 1 } as unknown as SessionRequest['session'];

describe('existingSession', () => {
  it('answers the session the request holds, and undefined for a visitor without one, creating none', () => {
    const { req } = requestWith({ phase: 'live' });
    req.session = session;
    expect(existingSession(req)).toBe(session);

    const create = jest.fn(() => session);
    const pending = requestWith({ phase: 'pending' }).req;
    Object.setPrototypeOf(pending, Object.defineProperty({}, 'session', { get: create }));
    expect(existingSession(pending)).toBeUndefined();
    expect(create).not.toHaveBeenCalled();
  });

  it('answers the session of a request where no session handling ran (no state)', () => {
    expect(existingSession({ session })).toBe(session);
    expect(existingSession({})).toBeUndefined();
  });

  it('throws the 503 of the failed load, never answering "no session"', () => {
    const failure = new SessionStoreUnavailableError('connection closed');
    const { req } = requestWith({ phase: 'failed', failure });
    req.session = session; // never reached
    let thrown: unknown;
    try {
      existingSession(req);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ServiceUnavailableException);
    expect((thrown as ServiceUnavailableException).getStatus()).toBe(503);
    expect((thrown as ServiceUnavailableException).cause).toBe(failure);
  });
});

describe('ensureSession', () => {
  it("answers the request's session, created on demand by the getter a pending request has", () => {
    const { req } = requestWith({ phase: 'pending' });
    Object.defineProperty(req, 'session', { get: () => session });
    expect(ensureSession(req)).toBe(session);
  });

  it('throws an error naming the missing SessionModule when the route has no session handling', () => {
    expect(() => ensureSession({})).toThrow('No session on this request: SessionModule is not mounted for this route');
  });

  it('names cookie.path instead on a request the module left alone for being outside it', () => {
    expect(() => ensureSession({ [OUTSIDE_COOKIE_PATH]: '/app' })).toThrow('No session on this request: its path is outside cookie.path "/app"');
  });
});

describe('carriedByHeader', () => {
  it.each([
    ['header', true],
    ['cookie', false],
    ['either', false],
  ] as const)('carrier %p: %p', (carrier, expected) => {
    expect(carriedByHeader(requestWith({ carrier }).req)).toBe(expected);
  });

  it('answers false where no session handling ran', () => {
    expect(carriedByHeader({})).toBe(false);
  });
});

describe('authenticatedByHeaderAlone', () => {
  it('is true for a request carried by the ID header that sent no session cookie', () => {
    const { req, sentCookie } = requestWith({ carrier: 'header' }, false);
    expect(authenticatedByHeaderAlone(req)).toBe(true);
    expect(sentCookie).toHaveBeenCalledWith(req);
  });

  it('is false when the session cookie came too: a browser may have added it to a forged request', () => {
    expect(authenticatedByHeaderAlone(requestWith({ carrier: 'header' }, true).req)).toBe(false);
  });

  it('is false for a request carried by the cookie, or where no session handling ran', () => {
    expect(authenticatedByHeaderAlone(requestWith({ carrier: 'cookie' }, false).req)).toBe(false);
    expect(authenticatedByHeaderAlone(requestWith({ carrier: 'either' }, false).req)).toBe(false);
    expect(authenticatedByHeaderAlone({})).toBe(false);
  });
});

describe('clearSessionCookie', () => {
  it("asks the request's lifecycle for the cookie that clears the session", () => {
    const { req, clearCookie } = requestWith({ phase: 'live' });
    clearSessionCookie(req);
    expect(clearCookie).toHaveBeenCalledTimes(1);
    expect(clearCookie).toHaveBeenCalledWith(req);
  });

  it('does nothing, and throws nothing, where no session handling ran', () => {
    expect(() => clearSessionCookie({})).not.toThrow();
  });
});
