import type { SessionData } from 'express-session';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { FIELD } from '../redis/session-fields';
import { exactAppLength } from './left-sealed';
import { diffSession, type SessionDelta } from './session-codec';
import type { SessionContext } from './session-context';
import type { SessionForwarding } from './session-forwarding';
import { userIdOf } from './session-slides';
import { stateOf, type SessionState, type UserIndexEntry, type UserIndexMove } from './session-state';
import { checkSessionObject } from './session-validation';
import { readUntracked } from './tracked-values';
import { expiryMoves, slideLag } from './idle-slide';
import type { SessionSave, StoredSession, UserIndexKeeper } from './store-ports';

/**
 * The write path: diffs a session against what Redis held when it was read and writes only that, in
 * one script, moving its user index entry in the same save when its user changed.
 */
export class SessionWriter {
  constructor(
    private readonly sessions: SessionContext,
    private readonly forwarding: SessionForwarding,
    private readonly indexKeeper: UserIndexKeeper | undefined,
  ) {}

  /**
   * Writes what changed in the session since it was read, or answers null, synchronously, when
   * nothing did and the read already slid the expiry: the common case of a request that only reads.
   */
  saveChanges(sessionId: string, data: SessionData): Promise<void> | null {
    // Apps widen SessionData with their own keys; whether it already has an index signature depends on
    // which declarations the compilation sees (the repository's tests add one, the package's build not).
    const session = data as StoredSession;
    const { sessions } = this;
    let delta: SessionDelta;
    const state = sessions.stateFor(session);
    const redisKey = sessions.redisKeyOf(sessionId);
    // The same object saved under a new ID: nothing of it is at that key yet, so 'patch' would drop it.
    if (state.stored && state.redisKey !== undefined && state.redisKey !== redisKey) {
      state.stored = null;
      state.held = undefined; // sealed for the other key: they would not open here
    }
    let move: UserIndexMove | undefined;
    try {
      checkSessionObject(session, false);
      // First: a session joining a user's index gets its device metadata in this very save.
      const keeper = this.indexKeeper;
      move = keeper && readUntracked(() => keeper.moveFor(session, state, sessions.digestOfKey(redisKey)));
      delta = diffSession(session, state, sessions.cookieTemplateFor(session.cookie), sessions.sealing.sealingFor(redisKey));
      const { maxSessionBytes } = sessions.settings;
      // Past the limit by a bound: counted exactly, opening the values a request's read left sealed.
      const bytes = delta.bytes > maxSessionBytes ? exactAppLength(delta.next, state) : delta.bytes;
      if (bytes > maxSessionBytes) throw new SessionTooLargeError(bytes, maxSessionBytes);
    } catch (error) {
      return Promise.reject(error);
    }
    // Unchanged: nothing to write, but the slide the read sent must have succeeded (else a 503). A
    // session that may have been renewed meanwhile is written even unchanged: a renewal answers
    // 'moved', and the response then carries the new cookie instead of setting the old one back
    // (persistent cookies). "May": due by this replica's clock, or within a grace of it, for another's.
    const { renewal } = sessions.settings;
    const mayBeRenewed = renewal !== undefined && sessions.renewalDue(state, Date.now(), renewal.grace);
    if (!move && state.stored && delta.set.length === 0 && delta.del.length === 0 && state.refreshed && !mayBeRenewed) return state.sliding ?? null;
    return this.write(sessionId, redisKey, session, state, delta, move);
  }

  /**
   * Throws now what a first save of `data` under a new ID would refuse: a value JSON cannot hold, the
   * cookie's fields, a session past `maxSessionBytes`. A login or regenerate asks before it deletes
   * the old ID, so bad input fails with the session the request came with still in Redis.
   */
  checkSavable(data: SessionData): void {
    const session = data as StoredSession;
    checkSessionObject(session, false);
    const { bytes } = diffSession(session, { stored: null, createdAt: 0, refreshed: false }, undefined);
    const { maxSessionBytes } = this.sessions.settings;
    if (bytes > maxSessionBytes) throw new SessionTooLargeError(bytes, maxSessionBytes);
  }

  private async write(
    sessionId: string,
    redisKey: string,
    session: StoredSession,
    state: SessionState,
    delta: SessionDelta,
    move: UserIndexMove | undefined,
  ): Promise<void> {
    const now = Date.now();
    if (!state.stored && this.sessions.settings.renewal) {
      // A new ID (a new session, a login, a regenerate): the renewal interval starts now.
      delta.set.push(FIELD.issuedAt, String(now));
      delta.next.set(FIELD.issuedAt, String(now));
    }
    const indexEntry = state.indexEntry;
    if (delta.next.has(FIELD.lastSeenAt)) delta = stampLastSeen(delta, now);
    const mode = state.stored ? 'patch' : 'replace';
    // A patch slides the expiry only once that is due (`touchAfter`), as a read does; a change of the
    // cookie's own settings (its maxAge) moves it at once, shorter or longer.
    const exact = mode === 'replace' || touchesCookie(delta);
    const save: SessionSave = {
      redisKey,
      mode,
      expiresAt: this.sessions.expiryOf(session, state.createdAt, now),
      now,
      minGain: exact ? 0 : slideLag(this.sessions.slides, session.cookie?.originalMaxAge),
      expectedExpiry: state.expiresAt,
      set: delta.set,
      del: delta.del,
    };
    const slides = mode === 'replace' || expiryMoves(state.expiresAt, save.expiresAt, save.minGain!);
    // A move into an index sets that index's expiry itself; otherwise the index may need a push, sent alongside.
    const push = move || !slides ? undefined : this.indexKeeper?.pushExpiry(state, save.expiresAt);
    const saving = move ? this.indexKeeper!.saveMoving(save, move, state) : this.sessions.gateway.saveSession(save).then((reply) => reply.status);
    const [status] = await Promise.all([saving, push]);
    if (status === 'gone') return; // destroyed meanwhile: the write is dropped, never resurrects it
    if (status === 'moved') return this.writeToSuccessor(sessionId, session, state, indexEntry);
    this.report(redisKey, session, status, state);
    state.stored = delta.next;
    state.held = delta.held;
    state.previousDigest = undefined;
    state.loggingIn = undefined;
    state.redisKey = redisKey;
    state.pendingMeta = undefined;
    if (slides) state.expiresAt = save.expiresAt;
    state.refreshed = true; // the save slid the expiry, or no slide is due: nothing left for a touch
  }

  /**
   * The session was renewed (here or on another replica) while this request ran: the same changes go
   * to the successor, as a patch over what it holds, and the request's state names the new ID so its
   * response carries the new cookie. The renewal moved the user index entry along.
   */
  private async writeToSuccessor(oldId: string, session: StoredSession, state: SessionState, indexEntry: UserIndexEntry | undefined): Promise<void> {
    const successor = await this.forwarding.successorOf(oldId);
    if (successor === undefined) return; // renewed, then destroyed: as 'gone'
    const successorKey = this.sessions.redisKeyOf(successor);
    state.renewedId = successor;
    state.redisKey = successorKey; // a patch of what was read, not a rewrite of the whole session
    state.indexEntry = indexEntry && { ...indexEntry, digest: this.sessions.digestOfKey(successorKey) };
    await this.saveChanges(successor, session);
  }

  /**
   * A session that a `regenerate` put under a new ID ends without ever being stored: left empty at the
   * end of the request (passport's logout, or any regenerate that carries nothing over), or destroyed
   * or logged out in it. The ID it left ended with no successor to announce it, so its end is announced
   * here, as `type` (`destroyed` unless told). Sockets and other subscribers of that session learn of
   * it as of any other delete. Nothing for a session that was stored: its first write named that ID.
   *
   * A logged-in session's entry in its user's index waited for the new ID's first save to move it
   * (the old key's `moving` mark counts it as live meanwhile); with no such save coming, the entry
   * leaves the index here, or it would hold a place under `users.maxSessions` for minutes. Answers
   * that removal, undefined when there is none.
   */
  abandon(data: SessionData, type: 'destroyed' | 'logout' = 'destroyed'): Promise<void> | undefined {
    const state = stateOf(data);
    const previousDigest = state?.previousDigest;
    if (!state || previousDigest === undefined) return undefined;
    state.previousDigest = undefined;
    const entry = state.stored === null ? state.indexEntry : undefined;
    this.sessions.observer?.sessionEvent?.({ type, digest: previousDigest, userId: entry?.userId ?? state.formerUserId });
    if (!entry || !this.indexKeeper) return undefined;
    state.indexEntry = undefined;
    return this.indexKeeper.release(entry);
  }

  /** Tells the observers what a write did: a session stored for the first time, or one found expired. */
  private report(redisKey: string, session: StoredSession, status: 'written' | 'expired', state: SessionState): void {
    const observer = this.sessions.observer;
    if (!observer) return;
    const digest = this.sessions.digestOfKey(redisKey);
    if (status === 'expired') {
      observer.sessionEnded?.('expired', 1);
      observer.sessionEvent?.({ type: 'expired', digest, userId: state.indexEntry?.userId ?? userIdOf(session) });
      return;
    }
    if (state.stored === null) {
      observer.sessionCreated?.();
      const type = state.loggingIn ? 'login' : 'created';
      observer.sessionEvent?.({ type, digest, userId: state.indexEntry?.userId ?? userIdOf(session), previousDigest: state.previousDigest });
    }
    observer.sessionSeen?.(digest, userIdOf(session));
  }
}

/** Whether a delta sets or deletes the cookie's own settings (`FIELD.cookie`), its maxAge among them. */
function touchesCookie(delta: SessionDelta): boolean {
  for (let i = 0; i < delta.set.length; i += 2) if (delta.set[i] === FIELD.cookie) return true;
  return delta.del.includes(FIELD.cookie);
}

/**
 * The delta with a logged-in session's last-seen time set to `now`, unless it sets it already (a
 * login): a save is a request of the user's, so it stamps last-seen (in the same HSET, at no cost).
 * A copy: the delta of an unchanged session shares its field map with the session's state.
 */
function stampLastSeen(delta: SessionDelta, now: number): SessionDelta {
  for (let i = 0; i < delta.set.length; i += 2) if (delta.set[i] === FIELD.lastSeenAt) return delta;
  const next = new Map(delta.next).set(FIELD.lastSeenAt, String(now));
  return { ...delta, set: [...delta.set, FIELD.lastSeenAt, String(now)], next };
}
