import { Cluster, ReplyError, type Redis } from 'ioredis';
import { messages } from '../errors/session.messages';
import { SessionStoreError } from '../errors/session-store.error';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { CallDeadlines } from './call-deadlines';
import { ReplicaAcknowledgement, type DurabilityCounts, type DurabilitySettings } from './replica-acknowledgement';
import { COMPARE_AND_SET, EXTEND_INDEX, INDEX_ADD, SAVE_AND_INDEX, SAVE_SESSION, TOUCH_SESSION } from './scripts';
import { FIELD } from './session-fields';
import type { SessionObserver, SessionObservers, StoreCallFacts, StoreOperation } from './session-observer';
import { ACTIVITY_ADD } from './activity-script';
import { DESTROY_SESSION, RENEW_CLAIM, RENEW_PLANT, RENEW_RETIRE } from './renewal-scripts';
import type { RenewalRecord } from '../renewal/renewal-record';

/** Settings of the gateway; the store and the Nest module derive them from their own options. */
export interface SessionGatewayOptions {
  /** The client; the gateway never closes it. */
  client: Redis | Cluster;
  /**
   * Ms a call may take in all, the client's own retries and redirections included, before it fails
   * with `SessionStoreUnavailableError`; 0 for no limit (the `redisDeadline` option).
   */
  deadline: number;
  /** Wait for replicas after security writes; off when undefined. @default undefined */
  durability?: DurabilitySettings;
  /** Where durability shortfalls are reported. @default console */
  logger?: Pick<Console, 'warn'>;
  /** Metrics and traces of every call; a bare store has none to report to. */
  observers?: SessionObservers;
  /** The near cache, when on: told of every write (see `WriteListener`). */
  writeListener?: WriteListener;
}

/**
 * A session as Redis holds it: every field of its hash by name, the same on ioredis 5 and 6 and on
 * either RESP version. Its expiry is a field too (`FIELD.expiresAt`).
 */
export type StoredFields = Record<string, string>;

/** 'moved': the key is a renewed session's old one, which takes no write (see `SessionForwarding`). */
export type SaveStatus = 'written' | 'gone' | 'expired' | 'moved';
/** 'moved': left alone, as another write slid it since it was read, or it is a renewed session's old key. */
export type TouchStatus = 'touched' | 'moved' | 'gone' | 'expired';
export type CompareAndSetReply = { status: 'written' } | { status: 'gone' } | { status: 'moved' } | { status: 'changed'; current: string | undefined };
/** A renewal's claim: the session's fields at that moment (none once retired) and the successor every claimant agrees on. */
export type RenewClaimReply = { status: 'gone' } | { status: 'claimed' | 'taken'; sealedSuccessor: string; fields: StoredFields };
export type IndexAddReply = { status: 'added'; evicted: string[] } | { status: 'rejected' };
export type SaveAndIndexReply = { status: SaveStatus; evicted: string[] } | { status: 'rejected' };

/** A session's entry in a user's index: the index's Redis key and the session's digest. */
export interface IndexEntry {
  redisKey: string;
  digest: string;
}

/** Where a session joins a user's index: its entry, creation time (the score) and the limit to apply. */
export interface IndexJoin extends IndexEntry {
  createdAt: number;
  /** Members created before this leave first; '-inf' without an absolute timeout. */
  oldestLive: number | '-inf';
  /** 0 means none. */
  limit: number;
  onLimit: 'evict-oldest' | 'reject';
  /** When the index may expire, ms since the epoch: its expiry only ever moves later. */
  indexExpiresAt: number;
}

/**
 * Told of every write the gateway makes, so a near cache never serves what this replica just changed,
 * and lets a deletion wait until Redis's invalidation of the key has reached this replica.
 */
export interface WriteListener {
  /** Called before a write of `redisKey` is sent. */
  writing(redisKey: string): void;
  /**
   * Called once the write settled, whether it succeeded or not (a timed-out write may still have run).
   * A promise returned is waited for before the write's caller hears back (bounded by the listener).
   */
  written(redisKey: string): Promise<void> | undefined;
  /** Undefined when nothing needs waiting for; otherwise call it before the write. */
  expectInvalidation(redisKey: string): { arrived: Promise<void>; cancel(): void } | undefined;
}

/** The scripts as ioredis defines them on the client (EVALSHA, falling back to EVAL once). */
interface ScriptCommands {
  sessionSave(redisKey: string, ...args: (string | number)[]): Promise<SaveStatus>;
  sessionTouch(redisKey: string, ...args: (string | number)[]): Promise<TouchStatus>;
  sessionCompareAndSet(redisKey: string, ...args: (string | number)[]): Promise<[string, string?]>;
  sessionIndexAdd(redisKey: string, ...args: (string | number)[]): Promise<string[]>;
  sessionActivityAdd(sessionsKey: string, usersKey: string, ...args: (string | number)[]): Promise<number>;
  sessionSaveAndIndex(sessionKey: string, joinKey: string, leaveKey: string, ...args: (string | number)[]): Promise<string[]>;
  sessionExtendIndex(indexKey: string, expiresAt: number): Promise<number>;
  sessionRenewClaim(redisKey: string, sealedSuccessor: string): Promise<string[]>;
  sessionRenewPlant(redisKey: string, ...args: (string | number)[]): Promise<'planted' | 'exists' | 'ended' | 'expired'>;
  sessionRenewRetire(redisKey: string, sealedSuccessor: string, grace: number, now: number): Promise<'retired' | 'gone'>;
  sessionDestroy(redisKey: string, ...args: (string | number)[]): Promise<[number, string]>;
}

type ScriptClient = (Redis | Cluster) & ScriptCommands;

const SCRIPTS: Record<keyof ScriptCommands, string> = {
  sessionSave: SAVE_SESSION,
  sessionTouch: TOUCH_SESSION,
  sessionCompareAndSet: COMPARE_AND_SET,
  sessionIndexAdd: INDEX_ADD,
  sessionActivityAdd: ACTIVITY_ADD,
  sessionSaveAndIndex: SAVE_AND_INDEX,
  sessionExtendIndex: EXTEND_INDEX,
  sessionRenewClaim: RENEW_CLAIM,
  sessionRenewPlant: RENEW_PLANT,
  sessionRenewRetire: RENEW_RETIRE,
  sessionDestroy: DESTROY_SESSION,
};

/** Keys each script declares (one unless named here). */
const KEY_COUNTS: Partial<Record<keyof ScriptCommands, number>> = { sessionActivityAdd: 2, sessionSaveAndIndex: 3 };

const OK: StoreCallFacts = { result: 'ok' };
const okFacts = (): StoreCallFacts => OK;

/**
 * Every Redis call of the library goes through here: one method per script with named arguments and
 * named replies, and the few plain commands. It applies the failure rules once (fail fast while
 * disconnected, bounded wait, errors as `SessionStoreUnavailableError`), which also makes it the one
 * place to measure or cache Redis traffic.
 */
export class SessionGateway {
  readonly client: ScriptClient;
  private readonly commandTimeout: number;
  private readonly observers: SessionObservers | undefined;
  /** The near cache, when on: told of every write (see `WriteListener`). */
  private readonly writeListener: WriteListener | undefined;
  /**
   * Always on, even when the client has a `commandTimeout` of its own: that one bounds each attempt,
   * and ioredis (Cluster above all, during a failover) re-sends a command after a closed connection
   * or a MOVED, each attempt with a fresh timer. Only a deadline per call bounds the caller's wait.
   */
  private readonly deadlines: CallDeadlines | undefined;
  /** When a call last failed because Redis was out of reach or too slow (ms since the epoch). */
  private lastUnavailableAt = 0;

  /** Security writes and their WAIT, when the `durability` option is on. */
  private readonly acknowledgement: ReplicaAcknowledgement | undefined;

  constructor({ client, deadline: commandTimeout, durability, logger, observers, writeListener }: SessionGatewayOptions) {
    this.client = withScripts(client);
    this.observers = observers;
    this.writeListener = writeListener;
    this.commandTimeout = commandTimeout;
    this.deadlines = commandTimeout > 0 ? new CallDeadlines(commandTimeout) : undefined;
    if (durability) {
      const connectTimeout = Math.max(commandTimeout, 2_000); // as the module's own clients: a TLS handshake can take a while
      this.acknowledgement = new ReplicaAcknowledgement(durability, client, withScripts, connectTimeout, logger ?? console);
    }
  }

  /** Metrics and traces, when on; unset, calls run unobserved. */
  get observer(): SessionObserver | undefined {
    return this.observers?.observer;
  }

  /** True when a call failed for want of Redis within the last `commandTimeout`. */
  recentlyUnavailable(): boolean {
    return this.lastUnavailableAt > 0 && Date.now() - this.lastUnavailableAt <= Math.max(this.commandTimeout, 1_000);
  }

  /**
   * Reads a session: one HGETALL, which writes nothing. Null when absent; `wrongType` when the key
   * holds something other than a hash. Whether the idle timeout is due to slide is the caller's to
   * decide (`touchSession`), from the expiry field the hash holds.
   */
  readSession(redisKey: string): Promise<StoredFields | null | 'wrongType'> {
    // A chain rather than an async function: every request reads, and each promise less counts.
    return this.call('load', (client) => client.hgetall(redisKey).then(asFieldRecord), readFacts).catch(wrongTypeOrThrow);
  }

  /** Whether a key under the prefix is a session, a renewed session's old key or a tombstone (see `renewalRecordOf`), from its two marks alone. */
  readRenewalMarks(redisKey: string): Promise<RenewalRecord> {
    return this.call('load', (client) => client.hmget(redisKey, FIELD.successor, FIELD.ended)).then(([successor, ended]) =>
      ended !== null ? 'ended' : successor !== null ? 'renewed' : 'session',
    );
  }

  /**
   * Writes fields of a session and sets its expiry. `patch` writes only into a session that still
   * exists (a destroyed one stays destroyed: 'gone'); `replace` writes it whole. An expiry already
   * past deletes the session ('expired').
   */
  async saveSession(args: {
    redisKey: string;
    mode: 'patch' | 'replace';
    expiresAt: number;
    now: number;
    /** Flat [field, value, …] list. */
    set: string[];
    del: string[];
  }): Promise<{ status: SaveStatus }> {
    const status = await this.call(
      'save',
      (client) => client.sessionSave(args.redisKey, ...saveArguments(args)),
      (reply) => ({ result: reply === 'gone' ? 'gone' : 'ok', bytes: byteCount(args.set), fieldsChanged: args.set.length / 2 + args.del.length }),
      args.redisKey,
    );
    return { status };
  }

  /**
   * Slides a session: moves its expiry to `expiresAt`, never past its absolute deadline, without
   * rewriting it, and stamps `lastSeenAt` when given. Never recreates a deleted session ('gone').
   * With `expectedExpiry` (the expiry field as read; null when it had none), leaves the session
   * alone ('moved') when another write moved its expiry since.
   */
  async touchSession(args: {
    redisKey: string;
    expiresAt: number;
    now: number;
    absoluteTimeout: number;
    expectedExpiry?: number | null;
    lastSeenAt?: number;
  }): Promise<{ status: TouchStatus }> {
    const { redisKey, expiresAt, now, absoluteTimeout, expectedExpiry, lastSeenAt } = args;
    const expected = expectedExpiry === undefined ? '*' : expectedExpiry === null ? '' : expectedExpiry;
    const status = await this.call(
      'touch',
      (client) => client.sessionTouch(redisKey, expiresAt, now, absoluteTimeout, expected, lastSeenAt ?? ''),
      (reply) => ({ result: reply === 'gone' ? 'gone' : 'ok' }),
      redisKey,
    );
    return { status };
  }

  /** Moves a user index's expiry to `expiresAt` unless it is later already; a missing index stays missing. */
  extendUserIndex(redisKey: string, expiresAt: number): Promise<number> {
    return this.call('index', (client) => client.sessionExtendIndex(redisKey, expiresAt), okFacts, redisKey);
  }

  /**
   * Writes `next` into one field (undefined deletes it) only if the field still holds `expected`
   * (undefined: absent); otherwise answers what it holds now. Slides the expiry to `expiresAt`, and
   * stamps `lastSeenAt` with it when given.
   */
  async compareAndSet(args: {
    redisKey: string;
    field: string;
    expected: string | undefined;
    next: string | undefined;
    expiresAt: number;
    now: number;
    lastSeenAt?: number;
  }): Promise<CompareAndSetReply> {
    const { redisKey, field, expected, next, expiresAt, now, lastSeenAt } = args;
    const [status, current] = await this.call(
      'update',
      (client) =>
        client.sessionCompareAndSet(
          redisKey,
          field,
          expected === undefined ? '0' : '1',
          expected ?? '',
          next === undefined ? '0' : '1',
          next ?? '',
          expiresAt,
          now,
          lastSeenAt ?? '',
        ),
      ([reply]) => ({
        result: reply === 'changed' ? 'conflict' : reply === 'gone' || reply === 'moved' ? 'gone' : 'ok',
        bytes: next?.length ?? 0,
        fieldsChanged: 1,
      }),
      redisKey,
    );
    // Only a string is a value: a missing field is nil on RESP2 and RESP3 alike, but would be 0 or false
    // if a script ever switched to RESP3 replies (redis.setresp(3)).
    if (status === 'changed') return { status, current: typeof current === 'string' ? current : undefined };
    return { status: status as 'written' | 'gone' | 'moved' };
  }

  /** One field of a hash, undefined when absent (an update following a renewed session reads its base). */
  async readField(redisKey: string, field: string): Promise<string | undefined> {
    const value = await this.call('update', (client) => client.hget(redisKey, field));
    return value ?? undefined;
  }

  /**
   * Claims a session's renewal for `sealedSuccessor`, or answers the successor another renewal
   * claimed first; with the session's fields, final from then on. See `RENEW_CLAIM`.
   */
  async claimRenewal(redisKey: string, sealedSuccessor: string): Promise<RenewClaimReply> {
    const [status, sealed, ...flat] = await this.call(
      'renew',
      (client) => client.sessionRenewClaim(redisKey, sealedSuccessor),
      ([reply]) => ({ result: reply === 'gone' ? 'gone' : 'ok' }),
      redisKey,
    );
    if (status === 'gone') return { status };
    return { status: status as 'claimed' | 'taken', sealedSuccessor: sealed, fields: asFieldRecord(flat) ?? {} };
  }

  /** Writes a renewed session's fields under its new key unless that key exists; stamps its expiry field and issue time. */
  plantSuccessor(args: { redisKey: string; expiresAt: number; now: number; fields: string[] }): Promise<'planted' | 'exists' | 'ended' | 'expired'> {
    const { redisKey, expiresAt, now, fields } = args;
    return this.call('renew', (client) => client.sessionRenewPlant(redisKey, expiresAt, now, ...fields), okFacts, redisKey);
  }

  /** Turns a claimed key into a pointer to its successor, expiring after `grace` ms; 'gone' when destroyed meanwhile. */
  retireRenewed(redisKey: string, sealedSuccessor: string, grace: number): Promise<'retired' | 'gone'> {
    return this.call(
      'renew',
      (client) => client.sessionRenewRetire(redisKey, sealedSuccessor, grace, Date.now()),
      (reply) => ({ result: reply === 'gone' ? 'gone' : 'ok' }),
      redisKey,
    );
  }

  /**
   * Deletes a session, leaving a tombstone for `tombstoneMs` when above 0 (see `DESTROY_SESSION`);
   * answers how many sessions it deleted and, for a renewed session's old key, its sealed successor.
   */
  async destroySession(redisKey: string, tombstoneMs: number): Promise<{ deleted: number; sealedSuccessor: string | undefined }> {
    // As `deleteKey`: resolves only once this replica's near cache heard Redis drop the session.
    const invalidation = this.writeListener?.expectInvalidation(redisKey);
    try {
      const [deleted, sealed] = await this.call('destroy', (client) => client.sessionDestroy(redisKey, tombstoneMs, Date.now()), okFacts, redisKey);
      if (Number(deleted) > 0 && invalidation) await invalidation.arrived;
      return { deleted: Number(deleted), sealedSuccessor: sealed ? sealed : undefined };
    } finally {
      invalidation?.cancel();
    }
  }

  /**
   * Adds a session digest to a user's index and applies the per-user limit in the same atomic step.
   * Members created before `oldestLive` are dropped first; `limit` 0 means none; the index's expiry
   * moves to `indexExpiresAt` unless it is later already.
   */
  async addToUserIndex(args: {
    redisKey: string;
    digest: string;
    createdAt: number;
    oldestLive: number | '-inf';
    limit: number;
    onLimit: 'evict-oldest' | 'reject';
    indexExpiresAt: number;
    /** The same session's previous digest, taken out first (an ID change). */
    leaving?: string;
  }): Promise<IndexAddReply> {
    const { redisKey, digest, createdAt, oldestLive, limit, onLimit, indexExpiresAt, leaving } = args;
    const [status, ...evicted] = await this.call(
      'index',
      (client) => client.sessionIndexAdd(redisKey, digest, createdAt, oldestLive, limit, onLimit, indexExpiresAt, leaving ?? ''),
      ([reply]) => ({ result: reply === 'rejected' ? 'conflict' : 'ok' }),
      redisKey,
    );
    return status === 'rejected' ? { status } : { status: 'added', evicted };
  }

  /**
   * `saveSession` and the session's index entry moved in one atomic step: out of `leave`, into `join`
   * under its limit. A rejected join writes nothing. Standalone and Sentinel only (`isCluster` false).
   */
  async saveSessionAndIndex(
    save: Parameters<SessionGateway['saveSession']>[0],
    { join, leave }: { join?: IndexJoin; leave?: IndexEntry },
  ): Promise<SaveAndIndexReply> {
    const { redisKey } = save;
    const header = join ? [join.digest, join.createdAt, join.oldestLive, join.limit, join.onLimit, join.indexExpiresAt] : ['', 0, '-inf', 0, 'evict-oldest', 0];
    const [status, ...evicted] = await this.call(
      'save',
      (client) =>
        client.sessionSaveAndIndex(redisKey, join?.redisKey ?? redisKey, leave?.redisKey ?? redisKey, ...header, leave?.digest ?? '', ...saveArguments(save)),
      ([reply]) => ({
        result: reply === 'gone' ? 'gone' : reply === 'rejected' ? 'conflict' : 'ok',
        bytes: byteCount(save.set),
        fieldsChanged: save.set.length / 2 + save.del.length,
      }),
      redisKey,
    );
    return status === 'rejected' ? { status } : { status: status as SaveStatus, evicted };
  }

  /** True on Redis Cluster, where a script cannot reach both a session and its user's index. */
  get isCluster(): boolean {
    return this.client instanceof Cluster;
  }

  /** Deletes one key; answers 1 when it existed. One key per call: on a cluster keys live in different slots. */
  async deleteKey(redisKey: string): Promise<number> {
    // A deletion (logout, revoke, …) resolves only once this replica's near cache has dropped the key
    // through Redis's own invalidation, which Redis sends to every replica at the same moment.
    const invalidation = this.writeListener?.expectInvalidation(redisKey);
    try {
      const deleted = await this.call('destroy', (client) => client.del(redisKey), okFacts, redisKey);
      if (deleted > 0 && invalidation) await invalidation.arrived;
      return deleted;
    } finally {
      invalidation?.cancel();
    }
  }

  existsKey(redisKey: string): Promise<number> {
    return this.call('index', (client) => client.exists(redisKey));
  }

  /** The device fields of a session (creation, last seen, user agent, IP), null each when absent. */
  deviceFields(redisKey: string): Promise<(string | null)[]> {
    return this.call('index', (client) => client.hmget(redisKey, FIELD.createdAt, FIELD.lastSeenAt, FIELD.userAgent, FIELD.ip));
  }

  /** Members of a sorted set scored between `max` and `min`, highest score first. */
  membersByScore(redisKey: string, max: number | string, min: number | string): Promise<string[]> {
    return this.call('index', (client) => client.zrange(redisKey, String(max), String(min), 'BYSCORE', 'REV'));
  }

  removeMembers(redisKey: string, members: string[]): Promise<number> {
    return this.call('index', (client) => client.zrem(redisKey, ...members), okFacts, redisKey);
  }

  countMembers(redisKey: string): Promise<number> {
    return this.call('index', (client) => client.zcard(redisKey));
  }

  hasMember(redisKey: string, member: string): Promise<boolean> {
    return this.call('index', (client) => client.zscore(redisKey, member)).then((score) => score !== null);
  }

  /** Keys matching `pattern`, by SCAN on every master (a cluster spreads them over its nodes). */
  async scanKeys(pattern: string, type?: 'hash'): Promise<string[]> {
    const nodes = this.client instanceof Cluster ? await this.masters(this.client) : [this.client as Redis];
    const keys: string[] = [];
    for (const node of nodes) {
      let cursor = '0';
      do {
        const args: (string | number)[] = ['MATCH', pattern, 'COUNT', 1000];
        if (type) args.push('TYPE', type);
        const [next, batch] = (await this.call('scan', () => node.call('SCAN', cursor, ...args))) as [string, string[]];
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
    }
    return keys;
  }

  /** A Cluster client lists its masters only once connected: before that a scan would see no key at all. */
  private async masters(cluster: Cluster): Promise<Redis[]> {
    if (cluster.status !== 'ready') await this.call('scan', () => cluster.ping());
    return cluster.nodes('master');
  }

  /**
   * Adds sessions and users to the HyperLogLogs of one activity bucket (two keys in one slot) and
   * sets their expiry; see `ActiveSessions`. Answers 1.
   */
  addActivity(args: { sessionsKey: string; usersKey: string; ttl: number; digests: string[]; userIds: string[] }): Promise<number> {
    const { sessionsKey, usersKey, ttl, digests, userIds } = args;
    return this.call('activity', (client) => client.sessionActivityAdd(sessionsKey, usersKey, ttl, digests.length, ...digests, ...userIds));
  }

  /** PFCOUNT over several HyperLogLogs of one slot: the size of their union. */
  countDistinct(redisKeys: string[]): Promise<number> {
    return this.call('activity', (client) => client.pfcount(...redisKeys));
  }

  /** Runs `operation` as a security write: on the connection of its own, then waiting for replicas (`durability`). */
  durably<T>(operation: () => Promise<T>): Promise<T> {
    return this.acknowledgement ? this.acknowledgement.run(operation) : operation();
  }

  /** What the durability seam counted; undefined when `durability` is off. */
  get durabilityCounts(): DurabilityCounts | undefined {
    return this.acknowledgement?.counts;
  }

  /** Closes what the gateway opened itself (the durability connection); never the client it was given. */
  close(): Promise<void> {
    return this.acknowledgement?.close() ?? Promise.resolve();
  }

  /**
   * Runs one Redis call under the failure rules, observed when an observer is attached. `writtenKey`
   * names the key a write changes, for the durability seam.
   */
  private call<T>(
    operation: StoreOperation,
    run: (client: ScriptClient) => Promise<T>,
    describe: (value: T) => StoreCallFacts = okFacts,
    writtenKey?: string,
  ): Promise<T> {
    const observer = this.observer;
    if (observer?.observeStoreCall) return observer.observeStoreCall(operation, () => this.bounded(run, writtenKey), describe);
    return this.bounded(run, writtenKey);
  }

  /** Fail fast while disconnected, one deadline for the whole call. */
  private bounded<T>(operation: (client: ScriptClient) => Promise<T>, writtenKey: string | undefined): Promise<T> {
    const client = (this.acknowledgement?.clientFor(writtenKey) as ScriptClient | undefined) ?? this.client;
    const status = client.status;
    if (status === 'reconnecting' || status === 'end' || status === 'close') {
      return Promise.reject(this.unavailable(new SessionStoreUnavailableError(messages.storeDisconnected(status))));
    }
    const listener = writtenKey === undefined ? undefined : this.writeListener;
    if (!listener) return this.withinDeadline(operation(client));
    listener.writing(writtenKey!);
    let heard: Promise<void> | undefined;
    const call = this.withinDeadline(
      operation(client).finally(() => {
        heard = listener.written(writtenKey!);
      }),
    );
    // Outside the deadline: a write that succeeded is never reported as timed out for want of its echo.
    const echoed = async () => {
      await heard;
    };
    return call.then(
      async (value) => (await echoed(), value),
      async (error: unknown) => {
        await echoed();
        throw error;
      },
    );
  }

  /** One deadline for the whole call (`commandTimeout`), and failures as the library's errors. */
  private withinDeadline<T>(pending: Promise<T>): Promise<T> {
    const deadlines = this.deadlines;
    if (!deadlines) return pending.catch((error) => Promise.reject(this.failure(error)));
    return new Promise<T>((resolve, reject) => {
      const deadline = deadlines.start(() => reject(this.unavailable(new SessionStoreUnavailableError(messages.storeTimeout(this.commandTimeout)))));
      pending.then(
        (value) => {
          deadline.settled = true;
          resolve(value);
        },
        (error) => {
          deadline.settled = true;
          reject(this.failure(error));
        },
      );
    });
  }

  /**
   * What a failed call rejects with: a wrong type stays a ReplyError (the caller handles it), any other
   * Redis reply error becomes a `SessionStoreError` (its text only in `cause`, never in an answer),
   * anything else means Redis is out of reach.
   */
  private failure(error: unknown): Error {
    if (error instanceof SessionStoreUnavailableError) return this.unavailable(error);
    if (error instanceof ReplyError) {
      const text = (error as Error).message;
      if (/^WRONGTYPE/.test(text)) return error as Error;
      // A server that cannot take writes for now (no replicas under min-replicas-to-write, a replica
      // after a failover, loading, a cluster without quorum) is unavailable, not broken: 503. So is a
      // redirection the client gave up following (ioredis's pipelines do not follow ASK to a node they
      // have not met yet, as during a slot's move to a new master).
      const busy = /^(NOREPLICAS|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|ASK|MOVED)\b/.exec(text);
      if (busy) return this.unavailable(new SessionStoreUnavailableError(messages.storeRefusing(busy[1]), { cause: error }));
      return new SessionStoreError(messages.storeRejected(), { cause: error });
    }
    return this.unavailable(new SessionStoreUnavailableError((error as Error)?.message ?? String(error), { cause: error }));
  }

  private unavailable(error: SessionStoreUnavailableError): SessionStoreUnavailableError {
    this.lastUnavailableAt = Date.now();
    return error;
  }
}

/** SAVE_SESSION's ARGV, which SAVE_AND_INDEX passes on after its own. */
function saveArguments(args: Parameters<SessionGateway['saveSession']>[0]): (string | number)[] {
  const { mode, expiresAt, now, set, del } = args;
  return [mode, expiresAt, now, set.length / 2, ...set, ...del];
}

/** Defines the scripts once per client; several stores may share one client. */
function withScripts(client: Redis | Cluster): ScriptClient {
  for (const [name, lua] of Object.entries(SCRIPTS)) {
    if (typeof (client as unknown as Record<string, unknown>)[name] !== 'function') {
      client.defineCommand(name, { numberOfKeys: KEY_COUNTS[name as keyof ScriptCommands] ?? 1, lua });
    }
  }
  return client as ScriptClient;
}

/**
 * HGETALL's reply as a record of fields, null for a missing key. ioredis turns the RESP2 array into an
 * object and decodes a RESP3 map as one, so the object is taken as it is; a flat array (a reply
 * mapping that left it alone) is paired up here, defining fields so one named `__proto__` stays a field.
 */
function asFieldRecord(reply: unknown): StoredFields | null {
  if (Array.isArray(reply)) {
    if (reply.length === 0) return null;
    const fields: StoredFields = {};
    for (let i = 0; i + 1 < reply.length; i += 2) {
      Object.defineProperty(fields, String(reply[i]), { value: String(reply[i + 1]), enumerable: true, writable: true, configurable: true });
    }
    return fields;
  }
  if (reply === null || typeof reply !== 'object') return null;
  for (const field in reply) if (Object.prototype.hasOwnProperty.call(reply, field)) return reply as StoredFields; // at least one field
  return null;
}

/** A read's failure: 'wrongType' when the key is not a hash, else rethrown. */
function wrongTypeOrThrow(error: unknown): 'wrongType' {
  if (error instanceof ReplyError && /WRONGTYPE/.test((error as Error).message)) return 'wrongType';
  throw error;
}

/** Bytes of a read session's fields and values. */
function readFacts(fields: StoredFields | null): StoreCallFacts {
  if (!fields) return { result: 'gone' };
  let bytes = 0;
  for (const field of Object.keys(fields)) bytes += field.length + fields[field].length;
  return { result: 'ok', bytes };
}

/** Characters of a flat field/value list: bytes for ASCII, a close enough size for a span attribute. */
function byteCount(values: string[]): number {
  let bytes = 0;
  for (const value of values) bytes += value.length;
  return bytes;
}
