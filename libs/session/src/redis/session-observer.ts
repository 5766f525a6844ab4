/**
 * The seam between the session code and what operators and apps see (metrics, traces, lifecycle
 * events). Session code calls these hooks only through the observers `SessionModule` attaches; a
 * bare `RedisSessionStore` has none, and each hook site costs one `undefined` check.
 * A hook never receives a session ID, a value, or anything a user typed: only names and counts,
 * digests (hashed IDs) and user ids.
 */

/** What happened to a session; see the README's "Events" for what each one covers. */
export type SessionEventType = 'created' | 'login' | 'logout' | 'revoked' | 'destroyed' | 'expired';

/** What the session code reports of a lifecycle event; `SessionEvents` adds the replica and the time. */
export type SessionEventFacts = { type: SessionEventType; digest: string; userId?: string; previousDigest?: string };

/** What a gateway call did, as a metric label and a span name (`session.<operation>`). */
export type StoreOperation = 'load' | 'save' | 'touch' | 'update' | 'destroy' | 'index' | 'scan' | 'activity' | 'renew';

/** How a gateway call ended: `conflict` a compare-and-set that found the key changed (or a refused login), `gone` a session that no longer exists. */
export type StoreResult = 'ok' | 'error' | 'timeout' | 'conflict' | 'gone';

/**
 * Why a session ended. `expired` counts only the expiries the library sees itself (Redis drops idle keys silently).
 * Each comes with a `sessionEvent` (see `SessionEventType`): `logout` is `logout` from `SessionService.logout` and
 * `destroyed` from any other destroy; `regenerated` (the old ID of a session moved to a new one) has no event of its
 * own, the new ID's `created` or `login` names it as `previousDigest`; `revoked` and `evicted` are `revoked`;
 * `expired` is `expired`.
 */
export type SessionEndReason = 'logout' | 'regenerated' | 'revoked' | 'evicted' | 'expired';

/** Safe facts about a settled gateway call: sizes and counts, never values. */
export interface StoreCallFacts {
  result: StoreResult;
  /** Bytes of session data read or written. */
  bytes?: number;
  /** Fields written or deleted by a save or an update. */
  fieldsChanged?: number;
}

/** Observes one kind of thing each hook names; every hook is optional. */
export interface SessionObserver {
  /** Runs one gateway call (`run`), measuring or tracing it; `describe` turns its reply into facts. */
  observeStoreCall?<T>(operation: StoreOperation, run: () => Promise<T>, describe: (value: T) => StoreCallFacts): Promise<T>;
  /** A session was stored for the first time (a new session, or a session moved to a new ID). */
  sessionCreated?(): void;
  /** `count` sessions ended for `reason`. */
  sessionEnded?(reason: SessionEndReason, count: number): void;
  /** A login completed. */
  login?(): void;
  /** A session got a new ID by periodic renewal (`renewal`), counted once, by the request that claimed it. */
  sessionRenewed?(): void;
  /** `SessionService.update` found its key changed and tries again. */
  updateRetried?(): void;
  /** `SessionService.update` gave up after its retries (answered 409). */
  updateGaveUp?(): void;
  /** A request was answered 503 because its session could not be loaded or saved. */
  requestUnavailable?(): void;
  /** A security write got fewer replica acknowledgements than `durability.replicas` asks for, or none could be asked for (logged too). */
  durabilityShortfall?(): void;
  /** A session was read or written by a request: `digest` its hashed ID, `userId` its user when logged in. */
  sessionSeen?(digest: string, userId: string | undefined): void;
  /** A request's session was served by the near cache (`hit`) or had to be read from Redis. */
  nearCacheRead?(hit: boolean): void;
  /** Redis invalidated a session the near cache held. */
  nearCacheInvalidated?(): void;
  /** The near cache dropped everything; `reason` is one of a short fixed list (`FlushReason`). */
  nearCacheFlushed?(reason: string): void;
  /** A session's lifecycle moved on (created, login, logout, revoked, destroyed, expired): one call per session. */
  sessionEvent?(facts: SessionEventFacts): void;
}

/** How a failed gateway call reads as a result: a timeout, or any other error. */
export function resultOfError(error: unknown): StoreResult {
  const message = (error as Error)?.message ?? '';
  return /did not answer within|timed out/i.test(message) ? 'timeout' : 'error';
}

/** Several observers as one: each hook calls every observer that has it, store calls nest (first outermost). */
export function combineObservers(observers: SessionObserver[]): SessionObserver | undefined {
  if (observers.length <= 1) return observers[0];
  const combined: SessionObserver = {};
  const hooks = [
    'sessionCreated',
    'sessionEnded',
    'login',
    'sessionRenewed',
    'updateRetried',
    'updateGaveUp',
    'requestUnavailable',
    'durabilityShortfall',
    'sessionSeen',
    'nearCacheRead',
    'nearCacheInvalidated',
    'nearCacheFlushed',
    'sessionEvent',
  ] as const;
  for (const hook of hooks) {
    const each = observers.filter((observer) => !!observer[hook]).map((observer) => observer[hook]!.bind(observer) as (...args: unknown[]) => void);
    if (each.length > 0) (combined as Record<string, unknown>)[hook] = (...args: unknown[]) => each.forEach((fn) => fn(...args));
  }
  const wrappers = observers.filter((observer) => !!observer.observeStoreCall);
  if (wrappers.length > 0) {
    combined.observeStoreCall = <T>(operation: StoreOperation, run: () => Promise<T>, describe: (value: T) => StoreCallFacts) =>
      wrappers.reduceRight<() => Promise<T>>((inner, observer) => () => observer.observeStoreCall!(operation, inner, describe), run)();
  }
  return combined;
}

/**
 * The observers of one set of sessions, as one: what the gateway, the store and the features report
 * to. Created before any of them and handed to each in its constructor; metrics, tracing and
 * `SessionEvents` join it at boot (`add`). Each hook site reads `observer` once, so a bare store
 * (no observer) pays one `undefined` check.
 */
export class SessionObservers {
  private readonly members: SessionObserver[] = [];
  /** Every member combined; undefined while there is none. */
  observer: SessionObserver | undefined;

  add(observer: SessionObserver | undefined): void {
    if (!observer) return;
    this.members.push(observer);
    this.observer = combineObservers(this.members);
  }
}
