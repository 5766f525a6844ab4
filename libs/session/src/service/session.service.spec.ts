import { messages } from '../errors/session.messages';
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
  return new SessionService(core, { updateRetries: 3 } as ResolvedSessionOptions, { hasRoom } as unknown as UserSessionIndex);
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
    // A function carrying an id is not a user object, though `user.id` reads a string.
    ['a function with a string id', Object.assign(() => undefined, { id: 'alice' })],
  ])('refuses %s with a TypeError naming what a user needs, synchronously', (_what, user) => {
    const hasRoom = jest.fn(() => new Promise<boolean>(() => undefined));
    let outcome: unknown;
    try {
      const login = service(hasRoom).login(req, user as unknown as SessionUser);
      login.catch(() => undefined); // a login that got past the check by mistake must fail this test, not the process
      outcome = login;
    } catch (error) {
      outcome = error;
    }
    expect(outcome).toEqual(new TypeError(messages.userWithoutId()));
    expect(outcome).toBeInstanceOf(TypeError);
    expect(hasRoom).not.toHaveBeenCalled();
  });

  it.each([
    ['a string id', { id: 'alice' }],
    ['a number id', { id: 42 }],
  ])('lets a user with %s through to the index', async (_what, user) => {
    await expect(service().login(req, user as SessionUser)).rejects.toBe(PAST_THE_CHECK);
  });
});
