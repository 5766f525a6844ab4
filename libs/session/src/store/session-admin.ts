import { FIELD, renewalRecordOf } from '../redis/session-fields';
import type { SessionEndReason } from '../redis/session-observer';
import { pastDeadline } from './idle-slide';
import { CorruptSessionError, UnopenableSessionError, decodeSession } from './session-codec';
import type { SessionContext } from './session-context';
import type { SessionForwarding } from './session-forwarding';
import type { StoredSession } from './store-ports';

/** Ending sessions, and the operations over every session under the prefix (`all`, `ids`, `clear`). */
export class SessionAdmin {
  constructor(
    private readonly sessions: SessionContext,
    private readonly forwarding: SessionForwarding,
  ) {}

  /**
   * Deletes the session; `reason` is what the metrics count it as when it existed, `ended` what its
   * lifecycle event says (`destroyed` unless told; none for `regenerated`, see `SessionEndReason`). A
   * renewed session's old ID deletes the successor too: a logout during the grace window ends both.
   * Answers whether there was a session to delete. A write security depends on, however it is asked
   * for (`SessionService`, `req.session.destroy()`, a `regenerate` such as passport's login and logout,
   * the store's `destroy`): with `durability` on, it resolves once replicas have it. `moving`: a
   * regenerate of a logged-in session, whose old key is left marked so (see `FIELD.moving`).
   */
  destroy(
    sessionId: string,
    reason: SessionEndReason = 'logout',
    ended: { type: 'logout' | 'destroyed'; userId?: string } = { type: 'destroyed' },
  ): Promise<boolean> {
    return this.sessions.gateway.durably(() => this.deleteSession(sessionId, reason, ended, false)).then((lastId) => lastId !== undefined);
  }

  /**
   * A regenerate's end of the old ID (counted as regenerated, announced by the new ID's first save);
   * `moving` for a logged-in session, whose index entry the new ID's save moves. Answers the ID whose
   * session ended: `sessionId`, or the successor a renewal moved it to meanwhile (whose digest the
   * index now holds); undefined when there was none.
   */
  destroyRegenerated(sessionId: string, moving: boolean): Promise<string | undefined> {
    return this.sessions.gateway.durably(() => this.deleteSession(sessionId, 'regenerated', { type: 'destroyed' }, moving));
  }

  private async deleteSession(
    sessionId: string,
    reason: SessionEndReason,
    ended: { type: 'logout' | 'destroyed'; userId?: string },
    moving: boolean,
  ): Promise<string | undefined> {
    const redisKey = this.sessions.redisKeyOf(sessionId);
    const { deleted, lastId } = await this.forwarding.destroy(sessionId, moving);
    if (deleted === 0) return undefined;
    const observer = this.sessions.observer;
    observer?.sessionEnded?.(reason, deleted);
    if (reason !== 'regenerated') observer?.sessionEvent?.({ type: ended.type, digest: this.sessions.digestOfKey(redisKey), userId: ended.userId });
    return lastId;
  }

  /** Every live session by digest; reading them writes nothing: no slide, no last-seen time, no deletion. */
  async all(): Promise<Record<string, StoredSession>> {
    const { sessions } = this;
    const redisKeys = await this.sessionRedisKeys();
    const found: Record<string, StoredSession> = {};
    await Promise.all(
      redisKeys.map(async (redisKey) => {
        const fields = await sessions.gateway.readSession(redisKey);
        const now = Date.now();
        if (!fields || fields === 'wrongType' || pastDeadline(sessions.slides, Number(fields[FIELD.createdAt]), now)) return;
        if (renewalRecordOf(fields) !== 'session') return; // a renewed session's old key (its successor is listed) or an ended one
        try {
          found[sessions.digestOfKey(redisKey)] = decodeSession(fields, sessions.cookieTemplateJson, now, sessions.sealing.sealingFor(redisKey)).data;
        } catch (error) {
          if (error instanceof UnopenableSessionError) return sessions.sealing.ignoreUnopenable(redisKey, error.message);
          if (!(error instanceof CorruptSessionError)) throw error;
          sessions.ignoreCorrupt(redisKey, error.message);
        }
      }),
    );
    return found;
  }

  /**
   * Digests of every live session. A renewed session's old key (renewal on) and a tombstone (a
   * destroy with renewal on, or a logged-in session's old ID while a regenerate moves it, renewal or
   * not) are hashes under the prefix too, for a while: each key is asked for those marks (one HMGET,
   * pipelined) and the records left out, as `all()` leaves them out.
   */
  async digests(): Promise<string[]> {
    const redisKeys = await this.sessionRedisKeys();
    const records = await Promise.all(redisKeys.map((redisKey) => this.sessions.gateway.readRenewalMarks(redisKey)));
    return redisKeys.filter((_, i) => records[i] === 'session').map((redisKey) => this.sessions.digestOfKey(redisKey));
  }

  /** Deletes every key under the prefix: sessions and user indexes, on every master of a cluster. */
  async clear(): Promise<void> {
    const redisKeys = await this.sessions.gateway.scanKeys(`${escapeGlob(this.sessions.prefix)}*`);
    await Promise.all(redisKeys.map((redisKey) => this.sessions.gateway.deleteKey(redisKey)));
  }

  private sessionRedisKeys(): Promise<string[]> {
    return this.sessions.gateway.scanKeys(`${escapeGlob(this.sessions.prefix)}*`, 'hash');
  }
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&');
}
