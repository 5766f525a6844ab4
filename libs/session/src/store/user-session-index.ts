import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { FIELD } from './reserved-fields';
import type { RedisSessionStore } from './redis-session-store';
import { handleOf } from './session-key';

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
  constructor(
    private readonly store: RedisSessionStore,
    private readonly limit: UserSessionLimit,
  ) {}

  keyOf(userId: string): string {
    return `${this.store.prefix}user:${encodeURIComponent(userId)}`;
  }

  /**
   * Adds a session and applies the per-user limit atomically. Returns the digests of sessions evicted
   * to make room (the caller deletes them); throws a 'limit' SessionConflictError when rejecting.
   */
  async add(userId: string, digest: string, createdAt: number): Promise<string[]> {
    const key = this.keyOf(userId);
    const { maxSessions, onLimit } = this.limit;
    // Idle-expired members would count against the limit and push out live sessions: drop them first.
    if (maxSessions > 0) await this.pruneDead(key, maxSessions);
    const absolute = this.store.absoluteTimeout;
    const oldestLive = absolute > 0 ? Date.now() - absolute : '-inf';
    const indexTtl = absolute > 0 ? absolute + 60_000 : 0; // outlives every member by a minute
    const reply = await this.store.run(() =>
      this.store.client.sessionIndexAdd(key, digest, createdAt, oldestLive, maxSessions, onLimit, indexTtl),
    );
    if (reply === -1) throw new SessionConflictError(messages.sessionLimit(maxSessions), 'limit');
    return reply as string[];
  }

  async remove(userId: string, digest: string): Promise<void> {
    await this.store.run(() => this.store.client.zrem(this.keyOf(userId), digest));
  }

  /** The user's live sessions, newest first; members found dead on the way leave the index. */
  async list(userId: string, currentDigest?: string): Promise<UserSessionInfo[]> {
    const key = this.keyOf(userId);
    const digests = await this.members(key);
    const rows = await Promise.all(
      digests.map((digest) =>
        this.store.run(() =>
          this.store.client.hmget(this.store.prefix + digest, FIELD.createdAt, FIELD.lastSeenAt, FIELD.userAgent, FIELD.ip),
        ),
      ),
    );
    const dead = digests.filter((_, i) => rows[i][0] === null);
    if (dead.length > 0) await this.store.run(() => this.store.client.zrem(key, ...dead));
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
    const key = this.keyOf(userId);
    const digest = (await this.members(key)).find((member) => handleOf(member) === handle);
    if (!digest) return false;
    const [deleted] = await Promise.all([
      this.store.run(() => this.store.client.del(this.store.prefix + digest)),
      this.store.run(() => this.store.client.zrem(key, digest)),
    ]);
    return deleted > 0;
  }

  /** Deletes every session of the user but `exceptDigest`; returns how many were live. */
  async revokeAll(userId: string, exceptDigest?: string): Promise<number> {
    const key = this.keyOf(userId);
    const targets = (await this.members(key)).filter((digest) => digest !== exceptDigest);
    if (targets.length === 0) return 0;
    const deleted = await Promise.all(targets.map((digest) => this.store.run(() => this.store.client.del(this.store.prefix + digest))));
    await this.store.run(() => this.store.client.zrem(key, ...targets));
    return deleted.reduce((sum, n) => sum + n, 0);
  }

  /** Deletes sessions by digest (one DEL each: on a cluster they live in different slots). */
  async deleteSessions(digests: string[]): Promise<void> {
    await Promise.all(digests.map((digest) => this.store.run(() => this.store.client.del(this.store.prefix + digest))));
  }

  /** Members newest first, leaving out those past the absolute timeout. */
  private members(key: string): Promise<string[]> {
    const absolute = this.store.absoluteTimeout;
    const oldest = absolute > 0 ? String(Date.now() - absolute) : '-inf';
    return this.store.run(() => this.store.client.zrange(key, '+inf', oldest, 'BYSCORE', 'REV'));
  }

  /** Whether the session is still in the user's index (a simultaneous login may have evicted it). */
  async contains(userId: string, digest: string): Promise<boolean> {
    return (await this.store.run(() => this.store.client.zscore(this.keyOf(userId), digest))) !== null;
  }

  private async pruneDead(key: string, maxSessions: number): Promise<void> {
    // Members added in the last few seconds may be logins still saving their session: not dead.
    const youngest = String(Date.now() - LOGIN_GRACE_MS);
    const digests = await this.store.run(() => this.store.client.zrange(key, youngest, '-inf', 'BYSCORE', 'REV'));
    if (digests.length === 0 || (await this.store.run(() => this.store.client.zcard(key))) < maxSessions) return;
    const alive = await Promise.all(digests.map((digest) => this.store.run(() => this.store.client.exists(this.store.prefix + digest))));
    const dead = digests.filter((_, i) => alive[i] === 0);
    if (dead.length > 0) await this.store.run(() => this.store.client.zrem(key, ...dead));
  }
}
