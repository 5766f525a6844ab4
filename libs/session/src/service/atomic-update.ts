import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { SessionDataError } from '../errors/session-data.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { RESERVED_PREFIX } from '../redis/session-fields';
import { toJson } from '../store/session-codec';
import type { SessionPersistence } from '../store/session-persistence';
import { isForbiddenKey } from '../store/session-validation';
import type { SessionState } from '../store/session-state';

/** A change function of `SessionService.update`; it gets its own copy of the value and may mutate it. */
export type KeyChange = (current: unknown) => unknown;

/** One caller's update, waiting for its group to be written. */
interface PendingUpdate {
  session: Record<string, unknown>;
  state: SessionState;
  change: KeyChange;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A change applied in memory, to be written with its group. */
interface Applied {
  update: PendingUpdate;
  value: unknown;
  json: string | undefined;
}

/**
 * The updates of one session field in this process. `known` is what this process last saw in Redis
 * (what it wrote, or what a failed compare-and-set answered); it lives only while updates are queued,
 * so a value is never trusted across bursts.
 */
interface FieldQueue {
  sessionId: string;
  redisKey: string;
  field: string;
  hasKnown: boolean;
  known: string | undefined;
  waiting: PendingUpdate[];
}

/**
 * Atomic updates of one session key (`SessionService.update`), with group commit: the updates of a
 * key queued in this process while a write is in flight are applied in memory in order, each to its
 * predecessor's result, and written together by one compare-and-set. Each caller gets its own result
 * or its own error. An update never conflicts with its own process, since the next group starts from
 * the value the last one wrote; only another process's write makes a compare-and-set fail, and then
 * the group is applied again at once to the value the compare-and-set answered; a key that keeps
 * failing pauses a growing random time before every other attempt. `maxRetries` bounds those
 * cross-process conflicts.
 */
export class SessionKeyUpdates {
  private readonly queues = new Map<string, FieldQueue>();

  constructor(
    private readonly sessions: SessionPersistence,
    private readonly maxRetries: number,
  ) {}

  /** How many session keys have updates queued or in flight; none once they are all settled. */
  get pendingKeys(): number {
    return this.queues.size;
  }

  update<T>(sessionId: string, session: Record<string, unknown>, key: string, change: (current: T | undefined) => T | Promise<T>): Promise<T> {
    if (key === 'cookie') return Promise.reject(new SessionDataError(messages.cookieKeyInUpdate(), key));
    if (key[0] === RESERVED_PREFIX) return Promise.reject(new SessionDataError(messages.reservedKey(key), key));
    if (isForbiddenKey(key)) return Promise.reject(new SessionDataError(messages.forbiddenKey(key), key));
    const redisKey = this.sessions.redisKeyOf(sessionId);
    const queueKey = `${redisKey}\u0000${key}`;
    return new Promise<T>((resolve, reject) => {
      const update: PendingUpdate = {
        session,
        state: this.sessions.stateFor(session),
        change: change as KeyChange,
        resolve: resolve as (value: unknown) => void,
        reject,
      };
      const queue = this.queues.get(queueKey);
      if (queue) {
        queue.waiting.push(update); // the drain in progress picks it up with the next group
        return;
      }
      const fresh: FieldQueue = { sessionId, redisKey, field: key, hasKnown: false, known: undefined, waiting: [update] };
      this.queues.set(queueKey, fresh);
      void this.drain(queueKey, fresh);
    });
  }

  /** Writes the queue's updates group after group until none is left, then forgets the key. */
  private async drain(queueKey: string, queue: FieldQueue): Promise<void> {
    while (queue.waiting.length > 0) {
      if (!queue.waiting[0].state.stored) {
        await this.writeUnstored(queue, queue.waiting.shift()!);
        continue;
      }
      // A session first stored by this very request may sit behind stored ones; it goes in a later group.
      const end = queue.waiting.findIndex((update) => !update.state.stored);
      const group = queue.waiting.splice(0, end === -1 ? queue.waiting.length : end);
      try {
        await this.writeGroup(queue, group);
      } catch (error) {
        // Redis failed (or timed out): what it holds now is unknown, so the next group starts afresh.
        queue.hasKnown = false;
        for (const update of group) update.reject(error);
      }
    }
    this.queues.delete(queueKey);
  }

  /**
   * Applies the group to the value Redis holds, as far as this process knows, and writes the result
   * if Redis still holds that value; otherwise applies it again to the value Redis answered.
   */
  private async writeGroup(queue: FieldQueue, group: PendingUpdate[]): Promise<void> {
    const { field } = queue;
    let base = queue.hasKnown ? queue.known : group[0].state.stored!.get(field);
    let pending = group;
    for (let conflicts = 0, pausedLast = false; ; ) {
      const applied = await this.applyInOrder(field, base, pending);
      if (applied.length === 0) return;
      pending = applied.map((entry) => entry.update); // a change that threw has had its answer
      const next = applied[applied.length - 1].json;
      const now = Date.now();
      const reply = await this.sessions.gateway.compareAndSet({
        redisKey: queue.redisKey,
        field,
        expected: base,
        next,
        expiresAt: Math.max(...pending.map(({ session, state }) => this.sessions.expiryOf(session as never, state.createdAt, now))),
        now,
      });
      if (reply.status === 'written') {
        queue.hasKnown = true;
        queue.known = next;
        for (const entry of applied) settleWritten(field, entry);
        return;
      }
      if (reply.status === 'gone') {
        queue.hasKnown = false;
        for (const update of pending) update.reject(new SessionConflictError(messages.sessionGone(), 'gone'));
        return;
      }
      // Another process wrote this field since `base`: what it holds now is the base of the next attempt.
      queue.hasKnown = true;
      queue.known = base = reply.current;
      conflicts++;
      if (conflicts > this.maxRetries) {
        this.sessions.observer?.updateGaveUp?.();
        const error = new SessionConflictError(messages.updateConflict(field, conflicts), 'contention');
        for (const update of pending) update.reject(error);
        return;
      }
      this.sessions.observer?.updateRetried?.();
      // Retry at once: the compare-and-set answered the freshest value there is. Only a key that keeps
      // failing pauses, and never twice in a row: after a pause the value is stale (the other process
      // kept writing), so the attempt that learns the fresh one must be followed by a prompt retry,
      // else a busy writer elsewhere starves this process into a 409.
      if (conflicts >= IMMEDIATE_RETRIES && !pausedLast) {
        await pause(conflicts - IMMEDIATE_RETRIES + 1);
        pausedLast = true;
      } else {
        pausedLast = false;
      }
    }
  }

  /**
   * Runs each change on its predecessor's result, starting from `base`. A change that throws, or
   * whose result makes the session too large, is rejected here and skipped; the value carries on.
   */
  private async applyInOrder(field: string, base: string | undefined, group: PendingUpdate[]): Promise<Applied[]> {
    const applied: Applied[] = [];
    let current = base;
    for (const update of group) {
      try {
        const value = await update.change(copyOf(current));
        const json = toJson(field, value);
        checkSize(this.sessions.maxSessionBytes, update.state.stored!, field, json);
        applied.push({ update, value, json });
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
  private async writeUnstored(queue: FieldQueue, update: PendingUpdate): Promise<void> {
    queue.hasKnown = false;
    const { session } = update;
    const { field } = queue;
    try {
      const value = await update.change(copyOf(toJson(field, session[field])));
      session[field] = value;
      await this.sessions.saveChanges(queue.sessionId, session as never);
      update.resolve(value);
    } catch (error) {
      update.reject(error);
    }
  }
}

/**
 * The caller's own result becomes what its request shows and what its state says Redis holds, so its
 * end-of-request save finds the key unchanged and does not write it again (over a later update).
 */
function settleWritten(field: string, { update, value, json }: Applied): void {
  const stored = update.state.stored!;
  if (json === undefined) {
    delete update.session[field];
    stored.delete(field);
  } else {
    update.session[field] = value;
    stored.set(field, json);
  }
  update.resolve(value);
}

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

/** Conflicts in a row with other processes retried without any pause. */
const IMMEDIATE_RETRIES = 3;

/** Random pause growing with each conflict in a row, so processes contending for one key spread out. */
function pause(streak: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** streak, 50);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
