import { ReplyError, type Cluster, type Redis } from 'ioredis';
import { messages } from '../errors/session.messages';
import { SessionStoreError } from '../errors/session-store.error';
import { SessionStoreUnavailableError } from '../errors/session-store-unavailable.error';
import { ACTIVITY_ADD } from './activity-script';
import { CallDeadlines } from './call-deadlines';
import { defineScriptsOn, runScript, type LuaScript } from './lua-script';
import { DESTROY_SESSION, RENEW_CLAIM, RENEW_PLANT, RENEW_RETIRE } from './renewal-scripts';
import { ReplicaAcknowledgement, type DurabilitySettings } from './replica-acknowledgement';
import { COMPARE_AND_SET, EXTEND_INDEX, INDEX_ADD, SAVE_AND_INDEX, SAVE_SESSION, TOUCH_SESSION } from './scripts';
import type { SessionObserver, SessionObservers, StoreCallFacts, StoreOperation } from './session-observer';

/** Settings of the gateway; the store and the Nest module derive them from their own options. */
export interface SessionGatewayOptions {
  /** The client; the gateway never closes it. */
  client: Redis | Cluster;
  /**
   * Ms a call may take in all, the client's own retries and redirections included, before it fails
   * with `SessionStoreUnavailableError`; 0 for no limit (the `redisDeadline` option).
   */
  deadline: number;
  /**
   * Values longer than this many bytes are written in pieces of at most this size, 0 for none (the
   * `hashMaxListpackValue` option; see field-pieces.ts). @default 64
   */
  pieceBytes?: number;
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

/** Every script the gateway runs, defined on each client it uses. */
export const SCRIPTS: readonly LuaScript<never, unknown>[] = [
  SAVE_SESSION,
  TOUCH_SESSION,
  COMPARE_AND_SET,
  INDEX_ADD,
  SAVE_AND_INDEX,
  EXTEND_INDEX,
  RENEW_CLAIM,
  RENEW_PLANT,
  RENEW_RETIRE,
  DESTROY_SESSION,
  ACTIVITY_ADD,
];

const OK: StoreCallFacts = { result: 'ok' };
/** Facts of a call whose reply says nothing worth a label. */
export const okFacts = (): StoreCallFacts => OK;

/**
 * The failure rules of every Redis call, applied once: fail fast while disconnected, one deadline
 * for the whole call, errors as the library's own, observed when an observer is attached, writes
 * told to the write listener and routed by the durability seam. `SessionGateway`'s parts run their
 * calls through here.
 */
export class GatewayCalls {
  readonly client: Redis | Cluster;
  readonly writeListener: WriteListener | undefined;
  private readonly deadline: number;
  private readonly observers: SessionObservers | undefined;
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

  constructor({ client, deadline, durability, logger, observers, writeListener }: SessionGatewayOptions) {
    this.client = withScripts(client);
    this.observers = observers;
    this.writeListener = writeListener;
    this.deadline = deadline;
    this.deadlines = deadline > 0 ? new CallDeadlines(deadline) : undefined;
    if (durability) {
      const connectTimeout = Math.max(deadline, 2_000); // as the module's own clients: a TLS handshake can take a while
      const onShortfall = () => this.observer?.durabilityShortfall?.();
      this.acknowledgement = new ReplicaAcknowledgement(durability, client, withScripts, connectTimeout, logger ?? console, onShortfall);
    }
  }

  /** Metrics and traces, when on; unset, calls run unobserved. */
  get observer(): SessionObserver | undefined {
    return this.observers?.observer;
  }

  /** True when a call failed for want of Redis within the last `deadline` (at least a second). */
  recentlyUnavailable(): boolean {
    return this.lastUnavailableAt > 0 && Date.now() - this.lastUnavailableAt <= Math.max(this.deadline, 1_000);
  }

  /**
   * Runs one Redis call under the failure rules, observed when an observer is attached. `writtenKey`
   * names the key a write changes, for the write listener and the durability seam.
   */
  call<T>(
    operation: StoreOperation,
    run: (client: Redis | Cluster) => Promise<T>,
    describe: (value: T) => StoreCallFacts = okFacts,
    writtenKey?: string,
  ): Promise<T> {
    const observer = this.observer;
    if (observer?.observeStoreCall) return observer.observeStoreCall(operation, () => this.bounded(run, writtenKey), describe);
    return this.bounded(run, writtenKey);
  }

  /** `call` of one script with its named input; its reply checked (see `LuaScript.parse`). */
  script<Input, Reply>(
    operation: StoreOperation,
    script: LuaScript<Input, Reply>,
    input: Input,
    describe: (reply: Reply) => StoreCallFacts = okFacts,
    writtenKey?: string,
  ): Promise<Reply> {
    return this.call(operation, (client) => runScript(client, script, input), describe, writtenKey);
  }

  /** Runs `operation` as a security write: on the connection of its own, then waiting for replicas (`durability`). */
  durably<T>(operation: () => Promise<T>): Promise<T> {
    return this.acknowledgement ? this.acknowledgement.run(operation) : operation();
  }

  /** Closes what the gateway opened itself (the durability connection); never the client it was given. */
  close(): Promise<void> {
    return this.acknowledgement?.close() ?? Promise.resolve();
  }

  /** Fail fast while disconnected, one deadline for the whole call. */
  private bounded<T>(operation: (client: Redis | Cluster) => Promise<T>, writtenKey: string | undefined): Promise<T> {
    const client = this.acknowledgement?.clientFor(writtenKey) ?? this.client;
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

  /** One deadline for the whole call (`deadline`), and failures as the library's errors. */
  private withinDeadline<T>(pending: Promise<T>): Promise<T> {
    const deadlines = this.deadlines;
    if (!deadlines) return pending.catch((error) => Promise.reject(this.failure(error)));
    return new Promise<T>((resolve, reject) => {
      const deadline = deadlines.start(() => reject(this.unavailable(new SessionStoreUnavailableError(messages.storeTimeout(this.deadline)))));
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
   * Redis reply error becomes a `SessionStoreError` (its text only in `cause`, never in an answer), as
   * does a script reply of the wrong shape; anything else means Redis is out of reach.
   */
  private failure(error: unknown): Error {
    if (error instanceof SessionStoreUnavailableError) return this.unavailable(error);
    if (error instanceof SessionStoreError) return error;
    if (error instanceof ReplyError) {
      const text = (error as Error).message;
      if (/^WRONGTYPE/.test(text)) return error as Error;
      // A server that cannot take writes for now (no replicas under min-replicas-to-write, a replica
      // after a failover, loading, a cluster without quorum, full at `maxmemory` under `noeviction`
      // until keys expire, a failed RDB save under `stop-writes-on-bgsave-error`) is unavailable, not
      // broken: 503. So is a redirection the client gave up following (ioredis's pipelines do not
      // follow ASK to a node they have not met yet, as during a slot's move to a new master).
      const busy = /^(NOREPLICAS|READONLY|LOADING|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|BUSY|OOM|MISCONF|ASK|MOVED)\b/.exec(text);
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

/** Defines the scripts once per client; several stores may share one client. */
function withScripts<C extends Redis | Cluster>(client: C): C {
  return defineScriptsOn(client, SCRIPTS);
}
