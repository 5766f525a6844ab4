import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { userIndexRedisKey } from '../redis/redis-keys';
import { handleOf } from '../redis/session-id';
import type { SessionPersistence } from '../store/session-persistence';

const LOGIN_GRACE_MS = 10_000;

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
 * session has expired are pruned lazily: by score past the absolute timeout, and by existence when
 * listed. Keyspace notifications are not used: they do not reach every node of a cluster.
 */
export class UserSessionIndex {
  private readonly gateway: SessionPersistence['gateway'];

  constructor(
    private readonly sessions: SessionPersistence,
    private readonly limit: UserSessionLimit,
  ) {
    this.gateway = sessions.gateway;
  }

  redisKeyOf(userId: string): string {
    return userIndexRedisKey(this.sessions.prefix, userId);
  }

  /**
   * Adds a session and applies the per-user limit atomically. Returns the digests of sessions evicted
   * to make room (the caller deletes them); throws a 'limit' SessionConflictError when rejecting.
   */
  async add(userId: string, digest: string, createdAt: number): Promise<string[]> {
    const key = this.redisKeyOf(userId);
    const { maxSessions, onLimit } = this.limit;
    // Idle-expired members would count against the limit and push out live sessions: drop them first.
    if (maxSessions > 0) await this.pruneDead(key, maxSessions);
    const absolute = this.sessions.absoluteTimeout;
    const reply = await this.gateway.addToUserIndex({
      redisKey: key,
      digest,
      createdAt,
      oldestLive: absolute > 0 ? Date.now() - absolute : '-inf',
      limit: maxSessions,
      onLimit,
      indexTtl: absolute > 0 ? absolute + 60_000 : 0, // outlives every member by a minute
    });
    if (reply.status === 'rejected') throw new SessionConflictError(messages.sessionLimit(maxSessions), 'limit');
    return reply.evicted;
  }

  async remove(userId: string, digest: string): Promise<void> {
    await this.gateway.removeMembers(this.redisKeyOf(userId), [digest]);
  }

  /** The user's live sessions, newest first; members found dead on the way leave the index. */
  async list(userId: string, currentDigest?: string): Promise<UserSessionInfo[]> {
    const key = this.redisKeyOf(userId);
    const digests = await this.members(key);
    const rows = await Promise.all(digests.map((digest) => this.gateway.deviceFields(this.sessions.redisKeyOfDigest(digest))));
    const dead = digests.filter((_, i) => rows[i][0] === null);
    if (dead.length > 0) await this.gateway.removeMembers(key, dead);
    return digests.flatMap((digest, i) => {
      const [created, seen, userAgent, ip] = rows[i];
      if (created === null) return [];
      return [{
        id: handleOf(digest),
        createdAt: new Date(Number(created)),
        lastSeenAt: new Date(Number(seen ?? created)),
        userAgent,
        ip,
        current: digest === currentDigest,
      }];
    });
  }

  /** Deletes the user's session with this handle; false when the user has no such live session. */
  async revoke(userId: string, handle: string): Promise<boolean> {
    const key = this.redisKeyOf(userId);
    const digest = (await this.members(key)).find((member) => handleOf(member) === handle);
    if (!digest) return false;
    const [deleted] = await Promise.all([
      this.gateway.deleteKey(this.sessions.redisKeyOfDigest(digest)),
      this.gateway.removeMembers(key, [digest]),
    ]);
    return deleted > 0;
  }

  /** Deletes every session of the user but `exceptDigest`; returns how many were live. */
  async revokeAll(userId: string, exceptDigest?: string): Promise<number> {
    const key = this.redisKeyOf(userId);
    const targets = (await this.members(key)).filter((digest) => digest !== exceptDigest);
    if (targets.length === 0) return 0;
    const deleted = await Promise.all(targets.map((digest) => this.gateway.deleteKey(this.sessions.redisKeyOfDigest(digest))));
    await this.gateway.removeMembers(key, targets);
    return deleted.reduce((sum, n) => sum + n, 0);
  }

  /** Deletes sessions by digest (one DEL each: on a cluster they live in different slots). */
  async deleteSessions(digests: string[]): Promise<void> {
    await Promise.all(digests.map((digest) => this.gateway.deleteKey(this.sessions.redisKeyOfDigest(digest))));
  }

  /** Members newest first, leaving out those past the absolute timeout. */
  private members(key: string): Promise<string[]> {
    const absolute = this.sessions.absoluteTimeout;
    return this.gateway.membersByScore(key, '+inf', absolute > 0 ? String(Date.now() - absolute) : '-inf');
  }

  /** Whether the session is still in the user's index (a simultaneous login may have evicted it). */
  async contains(userId: string, digest: string): Promise<boolean> {
    return this.gateway.hasMember(this.redisKeyOf(userId), digest);
  }

  private async pruneDead(key: string, maxSessions: number): Promise<void> {
    // Members added in the last few seconds may be logins still saving their session: not dead.
    const youngest = String(Date.now() - LOGIN_GRACE_MS);
    const digests = await this.gateway.membersByScore(key, youngest, '-inf');
    if (digests.length === 0 || (await this.gateway.countMembers(key)) < maxSessions) return;
    const alive = await Promise.all(digests.map((digest) => this.gateway.existsKey(this.sessions.redisKeyOfDigest(digest))));
    const dead = digests.filter((_, i) => alive[i] === 0);
    if (dead.length > 0) await this.gateway.removeMembers(key, dead);
  }
}
