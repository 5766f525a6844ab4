import type { Session } from 'express-session';
import { awaitSessionMethod } from './session-method';

/** express-session's callback methods (`save`, `destroy`, `reload`) as promises (`awaitSessionMethod`). */
describe('awaitSessionMethod', () => {
  function sessionAnswering(error?: Error) {
    const calls: { method: string; self: unknown }[] = [];
    const session = {} as Record<string, unknown>;
    for (const method of ['save', 'destroy', 'reload']) {
      session[method] = function (this: unknown, callback: (error?: Error) => void) {
        calls.push({ method, self: this });
        setImmediate(() => callback(error));
      };
    }
    return { session: session as unknown as Session, calls };
  }

  it.each(['save', 'destroy', 'reload'] as const)('calls %s on the session itself and resolves once it called back', async (method) => {
    const { session, calls } = sessionAnswering();
    await expect(awaitSessionMethod(session, method)).resolves.toBeUndefined();
    expect(calls).toEqual([{ method, self: session }]);
  });

  it('rejects with the error the method called back with', async () => {
    const failure = new Error('Redis went away');
    const { session } = sessionAnswering(failure);
    await expect(awaitSessionMethod(session, 'save')).rejects.toBe(failure);
  });
});
