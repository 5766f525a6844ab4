import { SessionTooLargeError } from '../errors/session-too-large.error';
import { RESERVED_PREFIX } from '../redis/session-fields';
import { countedLength, exactAppLength } from '../store/left-sealed';
import { toJson } from '../store/session-codec';
import type { SessionState } from '../store/session-state';
import type { SessionCore } from '../store/session-core';
import type { Applied, FieldQueue, PendingUpdate } from './key-update-queue';

/**
 * Runs the change functions of `SessionKeyUpdates` in memory: a group's changes in order, each on its
 * predecessor's result, or one change on a session never stored, saved whole. A change that throws,
 * or whose result is too large, fails its own caller only.
 */
export class KeyChangeRunner {
  constructor(private readonly core: SessionCore) {}

  /**
   * Runs each change on its predecessor's result, starting from `base`. A change that throws, or
   * whose result makes the session too large, is rejected here and skipped; the value carries on.
   * Synchronous while the changes are (the common case: no promise, no extra turn of the event loop);
   * from the first change that answers a promise on, the rest wait their turn.
   */
  applyInOrder(field: string, base: string | undefined, group: PendingUpdate[]): Applied[] | Promise<Applied[]> {
    const applied: Applied[] = [];
    let current = base;
    for (let i = 0; i < group.length; i++) {
      const update = group[i];
      let expiresAt: number;
      let result: unknown;
      try {
        // First the expiry its write would give the session: a cookie app code broke (an invalid maxAge)
        // fails its own caller here, before its change runs, never the group or the process.
        expiresAt = this.core.context.expiryOf(update.session as never, update.state.createdAt, Date.now());
        result = update.change(this.copyOf(field, update, current));
      } catch (error) {
        update.reject(error);
        continue;
      }
      if (isThenable(result)) return this.applyAsync(field, group, i, result, expiresAt, applied, current);
      current = this.keep(field, update, result, expiresAt, applied, current);
    }
    return applied;
  }

  /** `applyInOrder` from the change at `from` on, whose result is the promise `pending`. */
  private async applyAsync(
    field: string,
    group: PendingUpdate[],
    from: number,
    pending: PromiseLike<unknown>,
    expiresAt: number,
    applied: Applied[],
    current: string | undefined,
  ): Promise<Applied[]> {
    for (let i = from; i < group.length; i++) {
      const update = group[i];
      try {
        if (i > from) expiresAt = this.core.context.expiryOf(update.session as never, update.state.createdAt, Date.now());
        const value = await (i > from ? update.change(this.copyOf(field, update, current)) : pending);
        current = this.keep(field, update, value, expiresAt, applied, current);
      } catch (error) {
        update.reject(error);
      }
    }
    return applied;
  }

  /**
   * The caller's own copy of a value, so a change may mutate it. A value Redis holds that is not valid
   * JSON reaches the change as absent and is logged, as a read takes it; the write that follows still
   * expects the very string Redis holds, so it replaces that and nothing else.
   */
  private copyOf(field: string, update: PendingUpdate, json: string | undefined): unknown {
    if (json === undefined) return undefined;
    try {
      return JSON.parse(json);
    } catch {
      this.core.context.ignoreCorruptKey(update.state.redisKey, field);
      return undefined;
    }
  }

  /** Adds a change's result to `applied` and answers it as JSON; a result too large, or not JSON, rejects its caller and keeps `current`. */
  private keep(field: string, update: PendingUpdate, value: unknown, expiresAt: number, applied: Applied[], current: string | undefined): string | undefined {
    try {
      const json = toJson(field, value);
      checkSize(this.core.context.settings.maxSessionBytes, update.state, field, json);
      applied.push({ update, value, json, expiresAt });
      return json;
    } catch (error) {
      update.reject(error);
      return current;
    }
  }

  /**
   * A session never stored yet: no other request knows its ID, so nobody can race with it; the
   * request's own save writes it whole. Later updates of the key then take the compare-and-set path.
   */
  async writeUnstored(queue: FieldQueue, update: PendingUpdate): Promise<void> {
    queue.hasKnown = false;
    const { session } = update;
    const { field } = queue;
    try {
      const value = await update.change(this.copyOf(field, update, toJson(field, session[field])));
      session[field] = value;
      await this.core.writer.saveChanges(queue.sessionId, session as never);
      update.resolve(value);
    } catch (error) {
      update.reject(error);
    }
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as { then?: unknown }).then === 'function';
}

/** Refuses a change that would take the session past `maxSessionBytes`, counted as the end-of-request save counts it. */
function checkSize(maxSessionBytes: number, state: SessionState, key: string, json: string | undefined): void {
  const stored = state.stored!;
  let bytes = json === undefined ? 0 : key.length + json.length;
  for (const [field, value] of stored) {
    if (field[0] !== RESERVED_PREFIX && field !== key) bytes += field.length + countedLength(value);
  }
  // Past the limit by a bound: counted exactly, opening the values the request's read left sealed.
  if (bytes > maxSessionBytes) bytes = (json === undefined ? 0 : key.length + json.length) + exactAppLength(stored, state, key);
  if (bytes > maxSessionBytes) throw new SessionTooLargeError(bytes, maxSessionBytes);
}
