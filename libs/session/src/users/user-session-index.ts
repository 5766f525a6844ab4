import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { userIndexRedisKey } from '../redis/redis-keys';
import { FIELD } from '../redis/session-fields';
import { UnopenableSessionError } from '../store/session-codec';
import { handleOf } from '../redis/session-id';
import type { IndexJoin, IndexMember, SaveStatus } from '../redis/session-gateway';
import type { SessionContext } from '../store/session-context';
import type { SessionSave } from '../store/store-ports';
import type { UserIndexMove } from '../store/session-state';
import { indexExpiryFor, indexExpiryOnJoin, indexPushDue } from './user-index-expiry';

/** One of a user's sessions, as `SessionService.list` returns it. */
export interface UserSessionInfo {
  /** Opaque handle for `revoke`; derived from the hashed key, never the cookie value. */
  id: string;
  createdAt: Date;
  lastSeenAt: Date;
  userAgent: string | null;
  ip: string | null;
  /** True for the session of the request that asked. */
  current: boolean;
}

export interface UserSessionLimit {
  /** 0 means no limit. */
  maxSessions: number;
  onLimit: 'evict-oldest' | 'reject';
}

/**
 * Each user's sessions in one sorted set (session digests scored by creation time), so listing or
 * revoking them costs in proportion to that user's sessions, never to all sessions. Members whose
 * session has expired are pruned lazily: by score past the absolute timeout, and by existence
 * whenever a session joins the index or the index is listed. Keyspace notifications are not used:
 * they do not reach every node of a cluster.
 *
 * The index always has a TTL that outlives its members (see user-index-expiry.ts).
 *
 * A session's entry moves with its save (`saveMoving`): on standalone and Sentinel in the same
 * script; on a cluster, where the session and the index live in different slots, the session is
 * written first and its entry moved right after, so a session is never un-indexed once its save
 * has answered (see the README's "Users and their sessions").
 */
export class UserSessionIndex {
  private readonly gateway: SessionContext['gateway'];

  constructor(
    private readonly sessions: SessionContext,
    private readonly limit: UserSessionLimit,
  ) {
    this.gateway = sessions.gateway;
  }

  redisKeyOf(userId: string): string {
    return userIndexRedisKey(this.sessions.prefix, userId);
  }

  /**
   * Saves a session and moves its entry with it: out of the index it leaves, into the one it joins
   * under the per-user limit, pruning that index's members whose session is gone first. Sessions
   * evicted to make room are deleted; past the limit with `onLimit: 'reject'` nothing is kept and a
   * 'limit' SessionConflictError is thrown.
   */
  async saveMoving(save: SessionSave, move: UserIndexMove, createdAt: number): Promise<SaveStatus> {
    const leave = move.leave && { redisKey: this.redisKeyOf(move.leave.userId), digest: move.leave.digest, required: move.leaveRequired };
    const join = move.join && this.joinOf(move.join.userId, move.join.digest, createdAt, save.expiresAt);
    // The digest it leaves stays: its key is gone already after an ID change, and it makes the join a move.
    if (join) await this.pruneGone(join.redisKey, [join.digest, leave?.digest]);
    if (!this.gateway.isCluster) {
      const reply = await this.gateway.saveSessionAndIndex(save, { join, leave });
      if (reply.status === 'rejected') throw this.limitReached();
      await this.deleteSessions(reply.evicted, move.join?.userId);
      return reply.status;
    }
    // Cluster: session first, entry second. The other order would let a "log out everywhere" that
    // runs between the two delete nothing, then the save bring the session back without an entry.
    const { status } = await this.gateway.saveSession(save);
    if (status === 'moved') return status; // a renewed session's old key: the save goes again under the successor
    const sameIndex = join !== undefined && leave?.redisKey === join.redisKey;
    if (join && status === 'written') {
      const reply = await this.gateway.addToUserIndex({ ...join, leaving: sameIndex ? leave.digest : undefined, onlyMove: sameIndex && leave.required });
      if (reply.status !== 'added') {
        // 'gone': the entry a regenerate's first save leaves was taken out meanwhile (a logout, a revoke).
        await this.gateway.deleteKey(save.redisKey);
        if (reply.status === 'gone') return 'gone';
        throw this.limitReached();
      }
      await this.deleteSessions(reply.evicted, move.join!.userId);
    }
    if (leave && !(sameIndex && status === 'written')) await this.gateway.removeMembers(leave.redisKey, [leave.digest]);
    return status;
  }

  /**
   * A session renewed to a new ID: its entry moves from `fromDigest` to `toDigest` with its score, in
   * one atomic step that neither counts against the limit nor evicts. Only a move: when `fromDigest`
   * is no member (moved already by another replica finishing the same renewal, or revoked or
   * evicted meanwhile, whose retire then ends the successor) nothing is added. The index lives at
   * least as long as the session (`sessionExpiresAt`), as after any join.
   */
  async move(userId: string, fromDigest: string, toDigest: string, createdAt: number, sessionExpiresAt: number): Promise<void> {
    const join = this.joinOf(userId, toDigest, createdAt, sessionExpiresAt);
    const reply = await this.gateway.addToUserIndex({ ...join, leaving: fromDigest, onlyMove: true });
    if (reply.status === 'added') await this.deleteSessions(reply.evicted);
  }

  /**
   * Whether the user may add a session under `onLimit: 'reject'` (a hint: the save decides atomically).
   * `replacing`: the digest of the session the new one replaces (a login from a session already in the
   * index moves its entry rather than adding one), not counted.
   */
  async hasRoom(userId: string, replacing?: string): Promise<boolean> {
    const { maxSessions, onLimit } = this.limit;
    if (maxSessions === 0 || onLimit !== 'reject') return true;
    const key = this.redisKeyOf(userId);
    await this.pruneGone(key);
    const others = (await this.members(key)).filter((digest) => digest !== replacing);
    return others.length < maxSessions;
  }

  /**
   * Pushes the user's index's expiry after a write moved a member's expiry from `previous` to `next`,
   * when that needs it (see user-index-expiry.ts); undefined when it does not.
   */
  pushExpiry(userId: string, previous: number | undefined, next: number): Promise<number> | undefined {
    if (!indexPushDue(this.sessions.settings.absoluteTimeout, previous, next)) return undefined;
    return this.gateway.extendUserIndex(this.redisKeyOf(userId), indexExpiryFor(next));
  }

  async remove(userId: string, digest: string): Promise<void> {
    await this.gateway.removeMembers(this.redisKeyOf(userId), [digest]);
  }

  /** The user's live sessions, newest first; members found dead on the way leave the index. */
  async list(userId: string, currentDigest?: string): Promise<UserSessionInfo[]> {
    const key = this.redisKeyOf(userId);
    const digests = await this.members(key);
    const rows = await Promise.all(digests.map((digest) => this.gateway.deviceFields(this.sessions.redisKeyOfDigest(digest))));
    // A session a regenerate is moving to a new ID (its `moving` mark) is not listed, and not dead.
    const dead = digests.filter((_, i) => rows[i][0] === null && (rows[i][4] ?? null) === null);
    if (dead.length > 0) await this.gateway.removeMembers(key, dead);
    return digests.flatMap((digest, i) => {
      const [created, seen, userAgent, ip] = rows[i];
      if (created === null) return [];
      return [
        {
          id: handleOf(digest),
          createdAt: new Date(Number(created)),
          lastSeenAt: new Date(Number(seen ?? created)),
          userAgent: this.opened(digest, FIELD.userAgent, userAgent),
          ip: this.opened(digest, FIELD.ip, ip),
          current: digest === currentDigest,
        },
      ];
    });
  }

  /** Deletes the user's session with this handle; false when the user has no such live session. */
  async revoke(userId: string, handle: string): Promise<boolean> {
    const key = this.redisKeyOf(userId);
    const target = (await this.entries(key)).find((member) => handleOf(member.digest) === handle);
    if (!target) return false;
    const { digests, deleted } = await this.endSessions(key, [target], []);
    const count = deleted.reduce((sum, n) => sum + n, 0);
    if (count > 0) this.sessions.observer?.sessionEnded?.('revoked', count);
    this.announceRevoked(digests, deleted, userId);
    return count > 0;
  }

  /** Deletes every session of the user but those of `keep` (digests); returns how many were live. */
  async revokeAll(userId: string, keep: string[] = []): Promise<number> {
    const key = this.redisKeyOf(userId);
    const targets = (await this.entries(key)).filter((member) => !keep.includes(member.digest));
    if (targets.length === 0) return 0;
    const { digests, deleted } = await this.endSessions(key, targets, keep);
    const count = deleted.reduce((sum, n) => sum + n, 0);
    if (count > 0) this.sessions.observer?.sessionEnded?.('revoked', count);
    this.announceRevoked(digests, deleted, userId);
    return count;
  }

  /**
   * Deletes the sessions of `targets` and takes them out of the index. One renewed since the index
   * was read (another replica moved it to a new ID, and its entry with it) left a pointer whose
   * successor only a holder of the old ID can open; its entry is found instead by the score a renewal
   * keeps, the session's creation time, among the members that were not read, and is ended too.
   * Answers the digests ended and how many sessions each held (a pointer counts none).
   */
  private async endSessions(key: string, targets: IndexMember[], keep: string[]): Promise<{ digests: string[]; deleted: number[] }> {
    const ends = await Promise.all(targets.map(({ digest }) => this.sessions.deleteSession(this.sessions.redisKeyOfDigest(digest))));
    const digests = targets.map(({ digest }) => digest);
    const deleted = ends.map((end) => end.deleted);
    const renewedAt = new Set(targets.filter((_, i) => ends[i].renewed).map(({ score }) => score));
    if (renewedAt.size > 0) {
      const seen = new Set([...digests, ...keep]);
      const successors = (await this.entries(key)).filter((member) => renewedAt.has(member.score) && !seen.has(member.digest));
      const more = await Promise.all(successors.map(({ digest }) => this.sessions.deleteSession(this.sessions.redisKeyOfDigest(digest))));
      // The session is counted once, at its successor: its old key was only a pointer by then.
      const movedAt = new Set(successors.map(({ score }) => score));
      targets.forEach(({ score }, i) => ends[i].renewed && movedAt.has(score) && (deleted[i] = 0));
      digests.push(...successors.map(({ digest }) => digest));
      deleted.push(...more.map((end) => end.deleted));
    }
    await this.gateway.removeMembers(key, digests);
    return { digests, deleted };
  }

  /** Deletes sessions by digest (one DEL each: on a cluster they live in different slots), evicted from `userId`'s index. */
  async deleteSessions(digests: string[], userId?: string): Promise<void> {
    const ends = await Promise.all(digests.map((digest) => this.sessions.deleteSession(this.sessions.redisKeyOfDigest(digest))));
    const deleted = ends.map((end) => end.deleted);
    const count = deleted.reduce((sum, n) => sum + n, 0);
    if (count > 0) this.sessions.observer?.sessionEnded?.('evicted', count);
    this.announceRevoked(digests, deleted, userId);
  }

  /** One `revoked` event per session that a DEL actually removed. */
  private announceRevoked(digests: string[], deleted: number[], userId: string | undefined): void {
    const observer = this.sessions.observer;
    if (!observer?.sessionEvent) return;
    digests.forEach((digest, i) => deleted[i] > 0 && observer.sessionEvent!({ type: 'revoked', digest, userId }));
  }

  /** Members newest first, leaving out those past the absolute timeout. */
  private members(key: string): Promise<string[]> {
    return this.entries(key).then((members) => members.map(({ digest }) => digest));
  }

  /** As `members`, each with its score (its session's creation time). */
  private entries(key: string): Promise<IndexMember[]> {
    const absolute = this.sessions.settings.absoluteTimeout;
    return this.gateway.entriesByScore(key, '+inf', absolute > 0 ? String(Date.now() - absolute) : '-inf');
  }

  private joinOf(userId: string, digest: string, createdAt: number, sessionExpiresAt: number): IndexJoin {
    const absolute = this.sessions.settings.absoluteTimeout;
    const now = Date.now();
    return {
      redisKey: this.redisKeyOf(userId),
      digest,
      createdAt,
      oldestLive: absolute > 0 ? now - absolute : '-inf',
      limit: this.limit.maxSessions,
      onLimit: this.limit.onLimit,
      indexExpiresAt: indexExpiryOnJoin(absolute, now, sessionExpiresAt),
    };
  }

  /** A device field as the app sees it: opened under `encryption`, null when it does not open (logged once). */
  private opened(digest: string, field: string, held: string | null): string | null {
    if (held === null) return null;
    try {
      return this.sessions.sealing.openValue(this.sessions.redisKeyOfDigest(digest), field, held) ?? null;
    } catch (error) {
      if (error instanceof UnopenableSessionError) return null;
      throw error;
    }
  }

  private limitReached(): SessionConflictError {
    return new SessionConflictError(messages.sessionLimit(this.limit.maxSessions), 'limit');
  }

  /**
   * Drops members whose session is gone (idle-expired, destroyed, a renewal's tombstone in its
   * place): one HEXISTS per member, so it costs what the user's own sessions cost. Every member's key
   * was written before the member was added (`saveMoving`), so a key without a session means a dead
   * one, never one still being saved.
   */
  private async pruneGone(key: string, except: (string | undefined)[] = []): Promise<void> {
    const digests = (await this.gateway.membersByScore(key, '+inf', '-inf')).filter((digest) => !except.includes(digest));
    if (digests.length === 0) return;
    const alive = await Promise.all(digests.map((digest) => this.gateway.holdsSession(this.sessions.redisKeyOfDigest(digest))));
    const dead = digests.filter((_, i) => alive[i] === 0);
    if (dead.length > 0) await this.gateway.removeMembers(key, dead);
  }
}
