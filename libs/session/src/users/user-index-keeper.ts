import type { Request } from 'express';
import { toHttpException } from '../errors/to-http-exception';
import { FIELD } from '../redis/session-fields';
import type { SessionSave, StoredSession, UserIndexKeeper } from '../store/store-ports';
import { stateOf, type SessionState, type UserIndexEntry, type UserIndexMove } from '../store/session-state';
import { deviceMeta } from './device-meta';
import type { SessionUserId } from '../options/session-options.interface';
import { UserIdMemo } from './user-id-memo';
import type { UserSessionIndex } from './user-session-index';

/**
 * Makes a session's place in its user's index follow the session's user wherever the user is set:
 * `SessionService.login`, passport's `req.logIn` (`passport.user`), `regenerate`, a logout. Every
 * save compares the user the `userId` option finds now with the entry Redis holds, and moves the
 * entry in the same save when they differ; an ID change carries the old entry to the new session
 * (see `SessionLifecycle.generate`), so the save under the new ID also takes the old one out.
 */
export class SessionUserIndexKeeper implements UserIndexKeeper {
  private readonly userIds: UserIdMemo;

  constructor(
    private readonly index: UserSessionIndex,
    userId: SessionUserId,
  ) {
    this.userIds = new UserIdMemo(userId);
  }

  entryOf(data: StoredSession, digest: string): UserIndexEntry | undefined {
    try {
      const userId = this.userIds.userIdOf(data, stateOf(data), digest, true);
      return userId === undefined ? undefined : { userId, digest };
    } catch {
      return undefined; // a bad "userId" answer fails the save, where its message reaches the app
    }
  }

  moveFor(session: StoredSession, state: SessionState, digest: string): UserIndexMove | undefined {
    const userId = this.userIds.userIdOf(session, state, digest, false);
    const entry = state.indexEntry;
    const sameKey = entry !== undefined && entry.digest === digest;
    // An entry on a session object never written is one `generate` carried over an ID change: its key
    // is gone. A session read under one ID and saved under another keeps its first key: only join.
    const carried = entry !== undefined && state.redisKey === undefined;
    const leave = entry && (carried || (sameKey && entry.userId !== userId)) ? entry : undefined;
    const join = userId !== undefined && !(sameKey && entry.userId === userId) ? { userId, digest } : undefined;
    if (!leave && !join) return undefined;
    if (join && !state.pendingMeta && !state.stored?.has(FIELD.userAgent)) {
      // express-session's Session keeps its request: a passport login gets the device of its request.
      const req = (session as { req?: Request }).req;
      if (req?.headers) state.pendingMeta = deviceMeta(req, Date.now());
    }
    // A regenerate moving a logged-in session within its user's index (not a login, which is a new
    // authentication in its own right): its first save needs the entry it leaves still there.
    const leaveRequired = carried && join !== undefined && entry.userId === userId && !state.loggingIn;
    return { leave, join, leaveRequired };
  }

  pushExpiry(state: SessionState, expiresAt: number): Promise<unknown> | undefined {
    const entry = state.indexEntry;
    return entry && this.index.pushExpiry(entry.userId, state.expiresAt, expiresAt);
  }

  async follow(entry: (UserIndexEntry & { createdAt: number; expiresAt: number }) | undefined, digest: string): Promise<void> {
    if (entry) await this.index.move(entry.userId, entry.digest, digest, entry.createdAt, entry.expiresAt);
  }

  release(entry: UserIndexEntry): Promise<void> {
    return this.index.remove(entry.userId, entry.digest);
  }

  async saveMoving(save: SessionSave, move: UserIndexMove, state: SessionState): Promise<'written' | 'gone' | 'expired' | 'moved'> {
    try {
      const status = await this.index.saveMoving(save, move, state.createdAt);
      state.indexEntry = status === 'written' ? move.join : undefined;
      if (status === 'written') state.formerUserId = move.join ? undefined : move.leave?.userId;
      return status;
    } catch (error) {
      // Also reached through express-session's callbacks (passport's req.logIn): a 409 past the
      // per-user limit must not turn into Nest's generic 500.
      throw toHttpException(error);
    }
  }
}
