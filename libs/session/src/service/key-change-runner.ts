import { SessionTooLargeError } from '../errors/session-too-large.error';
import { RESERVED_PREFIX } from '../redis/session-fields';
import { toJson } from '../store/session-codec';
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
   */
  async applyInOrder(field: string, base: string | undefined, group: PendingUpdate[]): Promise<Applied[]> {
    const applied: Applied[] = [];
    let current = base;
    for (const update of group) {
      try {
        // First the expiry its write would give the session: a cookie app code broke (an invalid maxAge)
        // fails its own caller here, before its change runs, never the group or the process.
        const expiresAt = this.core.context.expiryOf(update.session as never, update.state.createdAt, Date.now());
        const value = await update.change(copyOf(current));
        const json = toJson(field, value);
        checkSize(this.core.context.settings.maxSessionBytes, update.state.stored!, field, json);
        applied.push({ update, value, json, expiresAt });
        current = json;
      } catch (error) {
        update.reject(error);
      }
    }
    return applied;
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
      const value = await update.change(copyOf(toJson(field, session[field])));
      session[field] = value;
      await this.core.writer.saveChanges(queue.sessionId, session as never);
      update.resolve(value);
    } catch (error) {
      update.reject(error);
    }
  }
}

/** The caller's own copy of a value, so a change may mutate it. */
function copyOf(json: string | undefined): unknown {
  return json === undefined ? undefined : JSON.parse(json);
}

function checkSize(maxSessionBytes: number, stored: Map<string, string>, key: string, json: string | undefined): void {
  let bytes = 0;
  for (const [field, value] of stored) {
    if (field[0] !== RESERVED_PREFIX && field !== key) bytes += field.length + value.length;
  }
  if (json !== undefined) bytes += key.length + json.length;
  if (bytes > maxSessionBytes) throw new SessionTooLargeError(bytes, maxSessionBytes);
}
