/**
 * The seam between the session code and what operators see (metrics, traces). Session code calls
 * these hooks only through an observer that `SessionModule` attaches when `metrics` or `tracing` is
 * on; with neither, no observer exists and each hook site costs one `undefined` check.
 * A hook never receives a session ID, a value, or anything a user typed: only names and counts,
 * plus the hashed digest and user id `sessionSeen` feeds into a HyperLogLog that keeps neither.
 */

/** What a gateway call did, as a metric label and a span name (`session.<operation>`). */
export type StoreOperation = 'load' | 'save' | 'touch' | 'update' | 'destroy' | 'index' | 'scan' | 'activity' | 'renew';

/** How a gateway call ended: `conflict` a compare-and-set that found the key changed (or a refused login), `gone` a session that no longer exists. */
export type StoreResult = 'ok' | 'error' | 'timeout' | 'conflict' | 'gone';

/** Why a session ended. `expired` counts only the expiries the library sees itself (Redis drops idle keys silently). */
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
  /** A session was read or written by a request: `digest` its hashed ID, `userId` its user when logged in. */
  sessionSeen?(digest: string, userId: string | undefined): void;
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
  const hooks = ['sessionCreated', 'sessionEnded', 'login', 'sessionRenewed', 'updateRetried', 'updateGaveUp', 'requestUnavailable', 'sessionSeen'] as const;
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
