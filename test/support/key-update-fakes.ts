import type { CompareAndSetReply } from '@app/session/redis/session-gateway';
import { SessionDataError } from '@app/session/errors/session-data.error';
import { attachState, stateOf } from '@app/session/store/session-state';
import type { SessionCore } from '@app/session/store/session-core';

// Fakes for the unit specs of `SessionKeyUpdates` (libs/session/src/service/atomic-update*.spec.ts):
// a persistence whose compare-and-sets the test answers by hand, and sessions as a request read them.

/** A promise the test resolves or rejects by hand. */
export function gate<T = void>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** One turn of the event loop. */
export const tick = () => new Promise((resolve) => setImmediate(resolve));

/** One compare-and-set the fake received, with the reply the test gives it. */
export interface CasCall {
  redisKey: string;
  field: string;
  expected: string | undefined;
  next: string | undefined;
  expiresAt: number;
  reply: ReturnType<typeof gate<CompareAndSetReply>>;
}

/**
 * Just what `SessionKeyUpdates` uses of `SessionCore`; each compare-and-set waits until the test
 * answers it, so the test decides what is in flight while updates queue up.
 */
export function fakePersistence() {
  const calls: CasCall[] = [];
  const sessions = {
    context: {
      settings: { maxSessionBytes: 1_000 },
      // touchAfter 0: every update that moves the expiry slides it (the write's min gain is 0).
      slides: { window: 60_000, touchAfter: 0, absoluteTimeout: 0 },
      redisKeyOf: (sessionId: string) => `sess:${sessionId}`,
      stateFor: (session: object) => stateOf(session)!,
      expiryOf: (session: { expiresAt: number }) => {
        // As the real one does for a cookie app code broke (an invalid maxAge or expires).
        if (!Number.isFinite(session.expiresAt)) throw new SessionDataError('invalid expiry', 'cookie');
        return session.expiresAt;
      },
      sealing: {
        // Without encryption: Redis holds each value's JSON itself.
        sealValue: (_redisKey: string, _field: string, json: string | undefined) => json,
        openValue: (_redisKey: string, _field: string, held: string | undefined) => held,
      },
    },
    writer: { saveChanges: jest.fn() },
    gateway: {
      compareAndSet: (args: Omit<CasCall, 'reply'>) => {
        const reply = gate<CompareAndSetReply>();
        calls.push({ ...args, reply });
        return reply.promise;
      },
    },
  };
  return { sessions: sessions as unknown as SessionCore, calls };
}

/** A session object as one request read it: `fields` is what Redis held then. */
export function requestSession(fields: Record<string, unknown>, expiresAt = 1_000): Record<string, unknown> {
  const session: Record<string, unknown> = { ...fields, expiresAt };
  const stored = new Map(Object.entries(fields).map(([key, value]) => [key, JSON.stringify(value)]));
  attachState(session, { stored, createdAt: 0, refreshed: true });
  return session;
}

/** A change that appends `item` to a list. */
export const append = (item: string) => (items: string[] | undefined) => [...(items ?? []), item];

/** Waits until the fake has seen `count` compare-and-sets (a retry may first pause a few ms). */
export async function casCalls(calls: CasCall[], count: number): Promise<CasCall[]> {
  for (let i = 0; i < 200 && calls.length < count; i++) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(calls).toHaveLength(count);
  return calls;
}
