import type { ResolvedSessionOptions } from '../options/resolved-options';
import type { SessionUser } from '../session-data';
import type { SessionCore } from '../store/session-core';
import type { UserSessionIndex } from '../users/user-session-index';
import { SessionService } from './session.service';

/** What the index answers once a user passed the check: the login goes no further (the e2e suites take it from there). */
const PAST_THE_CHECK = new Error('hasRoom reached: the user passed the check');

/**
 * A service over fakes that stop a login right after its user check, at the index's `hasRoom`:
 * rejecting with PAST_THE_CHECK, or never answering (a refused user must not get there, and a login
 * that got there by mistake must not leave a rejection nobody awaits).
 */
function service(hasRoom: () => Promise<boolean> = () => Promise.reject(PAST_THE_CHECK)): SessionService {
  const core = { gateway: { durably: <T>(write: () => Promise<T>) => write() } } as unknown as SessionCore;
  return new SessionService(core, { updateRetries: 3, users: {} } as ResolvedSessionOptions, { hasRoom } as unknown as UserSessionIndex);
}

/** The user login() is given; refused before anything is read or written, or let through to the index. */
describe('SessionService.login: the user it accepts', () => {
  const req = {};

  it.each([
    ['null', null],
    ['a string', 'alice'],
    ['an object without an id', { name: 'alice' }],
    ['an id that is an object', { id: { value: 1 } }],
    ['an id that is a boolean', { id: true }],
    ['an empty id', { id: '' }],
    ['an id that is not a number', { id: Number.NaN }],
    ['an infinite id', { id: Number.POSITIVE_INFINITY }],
    // A function carrying an id is not a user object, though `user.id` reads a string.
    ['a function with a string id', Object.assign(() => undefined, { id: 'alice' })],
  ])('refuses %s with a rejected TypeError naming what a user needs, before anything is read', async (_what, user) => {
    const hasRoom = jest.fn(() => new Promise<boolean>(() => undefined));
    const login = service(hasRoom).login(req, user as unknown as SessionUser);
    await expect(login).rejects.toBeInstanceOf(TypeError);
    await expect(login).rejects.toThrow(
      'SessionService.login(req, user) needs a user whose "id" is a non-empty string of well-formed Unicode or a finite number; got ',
    );
    expect(hasRoom).not.toHaveBeenCalled();
  });

  it.each([
    ['a string id', { id: 'alice' }],
    ['a number id', { id: 42 }],
  ])('lets a user with %s through to the index', async (_what, user) => {
    await expect(service().login(req, user as SessionUser)).rejects.toBe(PAST_THE_CHECK);
  });
});

/** A service whose index must never be reached: what it is given is refused first. */
function refusingService(): SessionService {
  const untouched = () => {
    throw new Error('the index was reached');
  };
  return new SessionService(
    { gateway: { durably: <T>(write: () => Promise<T>) => write() } } as unknown as SessionCore,
    { updateRetries: 3 } as ResolvedSessionOptions,
    { list: untouched, revoke: untouched, revokeAll: untouched } as unknown as UserSessionIndex,
  );
}

/** The user id list, revoke and logoutEverywhere take: refused, naming the method, before the index is asked. */
describe('SessionService: the user id it accepts', () => {
  const sessions = refusingService;

  it.each([
    ['undefined', undefined, 'undefined'],
    ['null', null, 'null'],
    ['an empty string', '', 'a string ("")'],
    ['NaN', Number.NaN, 'the number NaN'],
    ['a lone surrogate', 'user-\uD800', 'a string ("user-\\ud800")'],
  ])('refuses %s in list, revoke and logoutEverywhere, never reading the index of a user named after it', async (_what, userId, got) => {
    const id = userId as unknown as string;
    await expect(sessions().list(id)).rejects.toThrow(
      `SessionService.list needs a user id that is a non-empty string of well-formed Unicode or a finite number; got ${got}`,
    );
    await expect(sessions().revoke(id, 'handle')).rejects.toThrow(
      `SessionService.revoke needs a user id that is a non-empty string of well-formed Unicode or a finite number; got ${got}`,
    );
    await expect(sessions().logoutEverywhere(id)).rejects.toThrow(
      `SessionService.logoutEverywhere needs a user id that is a non-empty string of well-formed Unicode or a finite number; got ${got}`,
    );
  });
});

/** What revoke and logoutEverywhere take beside the user id: refused, naming it, before the index is asked. */
describe('SessionService: the handle and the session to keep', () => {
  const sessions = refusingService;

  it.each([
    ['undefined', undefined, 'undefined'],
    ['an empty string', '', 'a string ("")'],
    ['a number', 7, 'the number 7'],
    ['a row of list() rather than its id', { id: 'h', current: false }, 'a value of type object'],
  ])('revoke refuses %s as the handle, rather than answering false', async (_what, handle, got) => {
    const revoke = sessions().revoke('ada', handle as unknown as string);
    await expect(revoke).rejects.toBeInstanceOf(TypeError);
    await expect(revoke).rejects.toThrow(`SessionService.revoke needs a session's handle, the "id" of a row that list() answers (a string); got ${got}`);
  });

  it.each([
    ["a request's session rather than the request", { cookie: {}, user: { id: 'ada' } }],
    ['a handle of list()', 'Yv3kq0sQW1bU2i8mZc0a9x'],
    ['null', null],
  ])('logoutEverywhere refuses %s as except, rather than ending the session meant to be kept', async (_what, except) => {
    const everywhere = sessions().logoutEverywhere('ada', { except: except as object });
    await expect(everywhere).rejects.toBeInstanceOf(TypeError);
    await expect(everywhere).rejects.toThrow(`SessionService.logoutEverywhere's "except" must be the request whose session to keep`);
  });
});
