import { Cluster, type Redis } from 'ioredis';
import type { ActivityArgs } from './activity-script';
import { GatewayCalls, type SessionGatewayOptions } from './gateway-calls';
import { addActivity, countDistinct, scanKeys } from './key-scans';
import { claimRenewal, plantSuccessor, retireRenewed } from './renewal-calls';
import type { PlantArgs, PlantStatus, RenewClaimReply } from './renewal-scripts';
import type {
  CompareAndSetArgs,
  CompareAndSetReply,
  IndexAddArgs,
  IndexAddReply,
  IndexEntry,
  IndexJoin,
  SaveAndIndexReply,
  SaveSessionArgs,
  SaveStatus,
  TouchSessionArgs,
  TouchStatus,
} from './scripts';
import { PIECE_BYTES } from './field-pieces';
import type { RenewalRecord, StoredFields } from './session-fields';
import type { SessionObserver } from './session-observer';
import { readField, readRenewalMarks, readSession } from './session-reads';
import { compareAndSet, deleteKey, destroySession, saveSession, touchSession } from './session-writes';
import {
  addToUserIndex,
  deviceFields,
  entriesByScore,
  type IndexMember,
  extendUserIndex,
  holdsSession,
  membersByScore,
  removeMembers,
  saveSessionAndIndex,
} from './user-index-calls';

// The names the rest of the library imports from here, wherever they are defined.
export type { SessionGatewayOptions, WriteListener } from './gateway-calls';
export type { CompareAndSetReply, IndexAddReply, IndexEntry, IndexJoin, SaveAndIndexReply, SaveStatus, TouchStatus } from './scripts';
export type { RenewClaimReply } from './renewal-scripts';
export type { StoredFields } from './session-fields';
export type { IndexMember } from './user-index-calls';

/**
 * Every Redis call of the library goes through here: one method per script with named arguments and
 * checked, named replies, and the few plain commands. Each call runs under the same failure rules
 * (`GatewayCalls`: fail fast while disconnected, bounded wait, errors as
 * `SessionStoreUnavailableError`), which also makes it the one place to measure or cache Redis
 * traffic. The methods are grouped by role in session-reads.ts, session-writes.ts, renewal-calls.ts,
 * user-index-calls.ts and key-scans.ts; the scripts are defined in scripts.ts, renewal-scripts.ts
 * and activity-script.ts, their Lua in lua/.
 */
export class SessionGateway {
  private readonly calls: GatewayCalls;
  private readonly pieceBytes: number;

  constructor(options: SessionGatewayOptions) {
    this.calls = new GatewayCalls(options);
    this.pieceBytes = options.pieceBytes ?? PIECE_BYTES;
  }

  /** A write's arguments with this gateway's piece size, unless they name one (the default costs no copy). */
  private sized<Args extends { pieceBytes?: number }>(args: Args): Args {
    return this.pieceBytes === PIECE_BYTES || args.pieceBytes !== undefined ? args : { ...args, pieceBytes: this.pieceBytes };
  }

  /** The client, with the scripts defined on it; the gateway never closes it. */
  get client(): Redis | Cluster {
    return this.calls.client;
  }

  /** Metrics and traces, when on; unset, calls run unobserved. */
  get observer(): SessionObserver | undefined {
    return this.calls.observer;
  }

  /** True when a call failed for want of Redis within the last `redisDeadline` (at least a second). */
  recentlyUnavailable(): boolean {
    return this.calls.recentlyUnavailable();
  }

  /** True on Redis Cluster, where a script cannot reach both a session and its user's index. */
  get isCluster(): boolean {
    return this.calls.client instanceof Cluster;
  }

  /**
   * Reads a session: one HGETALL, which writes nothing. Null when absent; `wrongType` when the key
   * holds something other than a hash. Whether the idle timeout is due to slide is the caller's to
   * decide (`touchSession`), from the expiry field the hash holds.
   */
  readSession(redisKey: string): Promise<StoredFields | null | 'wrongType'> {
    return readSession(this.calls, redisKey);
  }

  /** Whether a key under the prefix is a session, a renewed session's old key or a tombstone (see `renewalRecordOf`), from its two marks alone. */
  readRenewalMarks(redisKey: string): Promise<RenewalRecord> {
    return readRenewalMarks(this.calls, redisKey);
  }

  /** One field of a hash, undefined when absent (an update following a renewed session reads its base). */
  readField(redisKey: string, field: string): Promise<string | undefined> {
    return readField(this.calls, redisKey, field);
  }

  /**
   * Writes fields of a session and sets its expiry. `patch` writes only into a session that still
   * exists (a destroyed one stays destroyed: 'gone'); `replace` writes it whole. An expiry already
   * past deletes the session ('expired').
   */
  saveSession(args: SaveSessionArgs): Promise<{ status: SaveStatus }> {
    return saveSession(this.calls, this.sized(args));
  }

  /**
   * Slides a session: moves its expiry to `expiresAt`, never past its absolute deadline, without
   * rewriting it, and stamps `lastSeenAt` when given. Never recreates a deleted session ('gone').
   * With `expectedExpiry` (the expiry field as read; null when it had none), leaves the session
   * alone ('moved') when another write moved its expiry since.
   */
  touchSession(args: TouchSessionArgs): Promise<{ status: TouchStatus }> {
    return touchSession(this.calls, args);
  }

  /**
   * Writes `next` into one field (undefined deletes it) only if the field still holds `expected`
   * (undefined: absent); otherwise answers what it holds now. Slides the expiry to `expiresAt`, and
   * stamps `lastSeenAt` with it when given.
   */
  compareAndSet(args: CompareAndSetArgs): Promise<CompareAndSetReply> {
    return compareAndSet(this.calls, this.sized(args));
  }

  /**
   * Deletes a session, leaving a tombstone for `tombstoneMs` when above 0, marked `moving` when told
   * (see lua/destroy-session.lua);
   * answers how many sessions it deleted and, for a renewed session's old key, its sealed successor.
   * Resolves once this replica's near cache heard Redis drop the session.
   */
  destroySession(redisKey: string, tombstoneMs: number, moving = false): Promise<{ deleted: number; sealedSuccessor: string | undefined }> {
    return destroySession(this.calls, redisKey, tombstoneMs, moving);
  }

  /**
   * Deletes one key; answers 1 when it existed. One key per call: on a cluster keys live in different
   * slots. Resolves once this replica's near cache heard Redis drop the key.
   */
  deleteKey(redisKey: string): Promise<number> {
    return deleteKey(this.calls, redisKey);
  }

  /**
   * Claims a session's renewal for `sealedSuccessor`, or answers the successor another renewal
   * claimed first; with the session's fields, final from then on. See lua/renew-claim.lua.
   */
  claimRenewal(redisKey: string, sealedSuccessor: string): Promise<RenewClaimReply> {
    return claimRenewal(this.calls, redisKey, sealedSuccessor);
  }

  /** Writes a renewed session's fields under its new key unless that key exists; stamps its expiry field and issue time. */
  plantSuccessor(args: PlantArgs): Promise<PlantStatus> {
    return plantSuccessor(this.calls, this.sized(args));
  }

  /** Turns a claimed key into a pointer to its successor, expiring after `grace` ms; 'gone' when destroyed meanwhile. */
  retireRenewed(redisKey: string, sealedSuccessor: string, grace: number): Promise<'retired' | 'gone'> {
    return retireRenewed(this.calls, redisKey, sealedSuccessor, grace);
  }

  /**
   * Adds a session digest to a user's index and applies the per-user limit in the same atomic step.
   * Members created before `oldestLive` are dropped first; `limit` 0 means none; the index's expiry
   * moves to `indexExpiresAt` unless it is later already.
   */
  addToUserIndex(args: IndexAddArgs): Promise<IndexAddReply> {
    return addToUserIndex(this.calls, args);
  }

  /**
   * `saveSession` and the session's index entry moved in one atomic step: out of `leave`, into `join`
   * under its limit. A rejected join writes nothing. Standalone and Sentinel only (`isCluster` false).
   */
  saveSessionAndIndex(save: SaveSessionArgs, { join, leave }: { join?: IndexJoin; leave?: IndexEntry }): Promise<SaveAndIndexReply> {
    return saveSessionAndIndex(this.calls, { save: this.sized(save), join, leave });
  }

  /** Moves a user index's expiry to `expiresAt` unless it is later already; a missing index stays missing. */
  extendUserIndex(redisKey: string, expiresAt: number): Promise<number> {
    return extendUserIndex(this.calls, redisKey, expiresAt);
  }

  /** 1 when the key holds a session (not a renewal's tombstone or forward pointer), else 0. */
  holdsSession(redisKey: string): Promise<number> {
    return holdsSession(this.calls, redisKey);
  }

  /** The device fields of a session (creation, last seen, user agent, IP), null each when absent. */
  deviceFields(redisKey: string): Promise<(string | null)[]> {
    return deviceFields(this.calls, redisKey);
  }

  /** Members of a sorted set scored between `max` and `min`, highest score first. */
  membersByScore(redisKey: string, max: number | string, min: number | string): Promise<string[]> {
    return membersByScore(this.calls, redisKey, max, min);
  }

  /** As `membersByScore`, each member with its score. */
  entriesByScore(redisKey: string, max: number | string, min: number | string): Promise<IndexMember[]> {
    return entriesByScore(this.calls, redisKey, max, min);
  }

  /** Removes `members` from a sorted set; answers how many were there. */
  removeMembers(redisKey: string, members: string[]): Promise<number> {
    return removeMembers(this.calls, redisKey, members);
  }

  /** Keys matching `pattern`, by SCAN on every master (a cluster spreads them over its nodes). */
  scanKeys(pattern: string, type?: 'hash'): Promise<string[]> {
    return scanKeys(this.calls, pattern, type);
  }

  /**
   * Adds sessions and users to the HyperLogLogs of one activity bucket (two keys in one slot) and
   * sets their expiry; see `ActiveSessions`. Answers 1.
   */
  addActivity(args: ActivityArgs): Promise<number> {
    return addActivity(this.calls, args);
  }

  /** PFCOUNT over several HyperLogLogs of one slot: the size of their union. */
  countDistinct(redisKeys: string[]): Promise<number> {
    return countDistinct(this.calls, redisKeys);
  }

  /**
   * Runs `operation` as a security write: on the connection of its own, then waiting for replicas
   * (`durability`); a shortfall is logged and reported to the observers' `durabilityShortfall`.
   */
  durably<T>(operation: () => Promise<T>): Promise<T> {
    return this.calls.durably(operation);
  }

  /** Closes what the gateway opened itself (the durability connection); never the client it was given. */
  close(): Promise<void> {
    return this.calls.close();
  }
}
