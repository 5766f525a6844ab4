import type { SessionData } from 'express-session';
import type { SessionGateway, StoredFields } from '../redis/session-gateway';
import type { SessionState, UserIndexEntry, UserIndexMove } from './session-state';

/*
 * The seams where features plug into the store. The store calls these interfaces and imports no
 * feature: the near cache (cache/) and the user index (users/) implement them, and `SessionModule`
 * hands the implementations to the store's constructors. A bare `RedisSessionStore` has none.
 */

/** A session as the store reads and writes it: express-session's `SessionData` and the app's own keys. */
export type StoredSession = SessionData & Record<string, unknown>;

/** What `SessionGateway.saveSession` takes: one save of one session. */
export type SessionSave = Parameters<SessionGateway['saveSession']>[0];

/**
 * A replica-local copy of recently read sessions (the near cache), kept coherent by Redis. The read
 * path asks it first and fills it after a miss; a fill is only kept when nothing invalidated or wrote
 * the key between `begin` and `fill` (the ticket proves it).
 */
export interface SessionCache {
  /** True while the cache may answer (its invalidations are armed and Redis is reachable). */
  serving(): boolean;
  /** The hash as Redis last reported it, or undefined on a miss. */
  read(redisKey: string, now: number): StoredFields | undefined;
  /** Drops a key's entry (and any fill under way); answers whether it held one. */
  forget(redisKey: string): boolean;
  /** Marks a fill about to start; the ticket is undefined when the cache does not serve. */
  begin(redisKey: string): number | undefined;
  /** Keeps what a read found, if `ticket` is still the key's latest. */
  fill(redisKey: string, ticket: number | undefined, fields: StoredFields, now: number): void;
  /** Ends a fill, kept or not. */
  settle(redisKey: string, ticket: number | undefined): void;
}

/**
 * Keeps each user's index of sessions in step with the sessions' users, in the save itself
 * (`SessionModule` sets one; a bare `RedisSessionStore` has no user index).
 */
export interface UserIndexKeeper {
  /** The index entry of a session just read (its user, if any, under `digest`). Never throws. */
  entryOf(data: StoredSession, digest: string): UserIndexEntry | undefined;
  /** Before a save: the index move it needs, or undefined when the session stays where it is. */
  moveFor(session: StoredSession, state: SessionState, digest: string): UserIndexMove | undefined;
  /** Saves the session and moves its index entry; answers the save's status. */
  saveMoving(save: SessionSave, move: UserIndexMove, state: SessionState): Promise<'written' | 'gone' | 'expired' | 'moved'>;
  /**
   * What a write moving the session's expiry from `state.expiresAt` to `expiresAt` must also send to
   * keep its user's index alive as long as the session; undefined when nothing.
   */
  pushExpiry(state: SessionState, expiresAt: number): Promise<unknown> | undefined;
  /** A renewal moved the session to `digest`: its entry (`entry`, if any) follows. */
  follow(entry: (UserIndexEntry & { createdAt: number; expiresAt: number }) | undefined, digest: string): Promise<void>;
  /** A regenerate's new session ended without being stored: the entry it was to move (`entry`) leaves the index. */
  release(entry: UserIndexEntry): Promise<void>;
}
