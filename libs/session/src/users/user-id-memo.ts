import type { SessionUserId } from '../options/session-options.interface';
import type { SessionState } from '../store/session-state';
import { ABSENT_KEY, rawAsRead } from '../store/tracked-values';
import { indexUserIdOf } from './user-id';

/** Sessions whose user id is remembered; past this, the oldest remembered is forgotten. */
const MAX_REMEMBERED = 10_000;

/** A user id, and what it was computed from: each top-level key the `users.id` function read, with the string Redis held for it. */
interface Remembered {
  userId: string | undefined;
  from: [key: string, raw: string | typeof ABSENT_KEY][];
}

/*
 * Every request of a logged-in session asks for its user id twice: when it is read (its entry in the
 * user's index) and when it is saved (has the user changed?). The `users.id` function reads the
 * session's `user` (or `passport`), which a lazy read has not parsed, or under `encryption` not
 * opened, for most requests: the handler never uses it. So the id is remembered per session with the
 * exact strings Redis held for the keys the function read, and given again while the session still
 * holds those very strings, without parsing or opening anything. The function is pure (documented),
 * so the same strings give the same id. A sealed value's string is unique (a random IV), and a key
 * the request reached, assigned or deleted no longer counts as the same: the id is then computed.
 */
export class UserIdMemo {
  private readonly remembered = new Map<string, Remembered>();

  constructor(private readonly userId: SessionUserId) {}

  /**
   * The user id of `session` (stored under `digest`), as `indexUserIdOf` answers it, or its error.
   * `fresh`: `session` is a lazy read's data that nothing has used yet (see `rawAsRead`).
   */
  userIdOf(session: object, state: SessionState | undefined, digest: string, fresh: boolean): string | undefined {
    if (!state) return indexUserIdOf(this.userId, session);
    const known = this.remembered.get(digest);
    if (known && known.from.every(([key, raw]) => rawAsRead(session, state, key, fresh) === raw)) return known.userId;
    const from: Remembered['from'] = [];
    let sure = true;
    const seen = new Set<string | symbol>();
    // What the function reads is noted before it reads it: reading may open a value and replace its string.
    const note = (key: string | symbol): void => {
      if (seen.has(key)) return;
      seen.add(key);
      const raw = typeof key === 'string' ? rawAsRead(session, state, key, fresh) : undefined;
      if (raw === undefined) sure = false;
      else from.push([key as string, raw]);
    };
    const watched = new Proxy(session, {
      get: (target, key): unknown => (note(key), Reflect.get(target, key)),
      has: (target, key) => (note(key), Reflect.has(target, key)),
      getOwnPropertyDescriptor: (target, key) => (note(key), Reflect.getOwnPropertyDescriptor(target, key)),
      ownKeys: (target) => ((sure = false), Reflect.ownKeys(target)),
    });
    const userId = indexUserIdOf(this.userId, watched);
    // What it could not tell unchanged is not remembered; an entry left from before stays harmless,
    // as it is only given again while the session holds the strings it came from.
    if (sure) this.remember(digest, { userId, from });
    return userId;
  }

  private remember(digest: string, remembered: Remembered): void {
    if (!this.remembered.has(digest) && this.remembered.size >= MAX_REMEMBERED) {
      this.remembered.delete(this.remembered.keys().next().value!);
    }
    this.remembered.set(digest, remembered);
  }
}
