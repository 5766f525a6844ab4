import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { SessionDataError } from '../errors/session-data.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { RESERVED_PREFIX } from './reserved-fields';
import type { RedisSessionStore } from './redis-session-store';
import { toJson } from './session-codec';

const WRITTEN = 2;
const CHANGED = 1;

/**
 * Applies `change` to one session key as Redis holds it now, and writes the result only if nobody
 * changed that key meanwhile (compare-and-set in one script); otherwise retries with the fresh value.
 * The first attempt uses the value read at the start of the request, so an uncontended update costs
 * one round trip. `change` gets its own copy of the value each attempt and may mutate it.
 */
export async function updateSessionKey<T>(
  store: RedisSessionStore,
  sessionId: string,
  session: Record<string, unknown>,
  key: string,
  change: (current: T | undefined) => T | Promise<T>,
  maxRetries: number,
): Promise<T> {
  if (key === 'cookie' || key[0] === RESERVED_PREFIX) throw new SessionDataError(messages.reservedKey(key), key);
  const state = store.stateFor(session);
  if (!state.stored) {
    // Never stored: no other request knows this session, so there is nobody to race with.
    const value = await change(copyOf<T>(toJson(key, session[key])));
    session[key] = value;
    await store.set(sessionId, session as never);
    return value;
  }
  let expected = state.stored.get(key);
  for (let attempt = 1; ; attempt++) {
    const value = await change(copyOf<T>(expected));
    const json = toJson(key, value);
    checkSize(store, state.stored, key, json);
    const now = Date.now();
    const reply = await store.run(() =>
      store.client.sessionCompareAndSet(
        store.keyOf(sessionId),
        key,
        expected === undefined ? '0' : '1',
        expected ?? '',
        json === undefined ? '0' : '1',
        json ?? '',
        store.expiryOf(session as never, state.createdAt, now),
        now,
      ),
    );
    if (reply[0] === WRITTEN) {
      if (json === undefined) {
        delete session[key];
        state.stored.delete(key);
      } else {
        session[key] = value; // what was written is this value's JSON, so the end-of-request save skips it
        state.stored.set(key, json);
      }
      return value;
    }
    if (reply[0] !== CHANGED) throw new SessionConflictError(messages.sessionGone(), 'gone');
    if (attempt > maxRetries) throw new SessionConflictError(messages.updateConflict(key, attempt), 'contention');
    // Only a string is a value: nil (field gone) is null on every protocol today, but a RESP3 boolean would be 0 or false.
    expected = typeof reply[1] === 'string' ? reply[1] : undefined;
    await pause(attempt);
  }
}

/**
 * Chains the updates of one session key made in this process, so they contend with other processes
 * only, never with each other: fewer retries, and fairness between requests of one replica.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(task, task);
    const tail = result.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }
}

function copyOf<T>(json: string | undefined): T | undefined {
  return json === undefined ? undefined : (JSON.parse(json) as T);
}

function checkSize(store: RedisSessionStore, stored: Map<string, string>, key: string, json: string | undefined): void {
  let bytes = 0;
  for (const [field, value] of stored) {
    if (field[0] !== RESERVED_PREFIX && field !== key) bytes += field.length + value.length;
  }
  if (json !== undefined) bytes += key.length + json.length;
  if (bytes > store.maxSessionBytes) throw new SessionTooLargeError(bytes, store.maxSessionBytes);
}

/** Short random back-off, growing with each attempt, so contenders spread out instead of colliding again. */
function pause(attempt: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** attempt, 50);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
