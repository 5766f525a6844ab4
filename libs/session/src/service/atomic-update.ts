import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { SessionDataError } from '../errors/session-data.error';
import { SessionTooLargeError } from '../errors/session-too-large.error';
import { FIELD, RESERVED_PREFIX } from '../redis/session-fields';
import { UnopenableSessionError, toJson } from '../store/session-codec';
import type { CompareAndSetReply } from '../redis/session-gateway';
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
  /** Compare-and-sets of this update lost to another process (not to this process's own pipeline). */
  conflicts: number;
}

/** A change applied in memory, to be written with its group. */
interface Applied {
  update: PendingUpdate;
  value: unknown;
  json: string | undefined;
  /** The expiry this caller's session asks for; the group writes the latest. */
  expiresAt: number;
}

/**
 * One field's value both ways: its JSON (what changes run on) and the string Redis holds (what the
 * compare-and-set compares). They are the same string but under `encryption`, where `held` is sealed.
 *
 * Why the comparison is on the sealed string: every seal has a random IV, so two seals of one value
 * differ and a fresh seal can never serve as the expected value. The string a process read (or
 * wrote) is exactly what Redis holds, though, and equal sealed strings mean equal values; a field
 * another process re-sealed without changing it looks changed, which costs one retry, never a lost
 * update. A deterministic IV would make seals comparable, but would show anyone reading Redis when a
 * value comes back to one it had before, and GCM with a derived IV is a construction of our own.
 */
interface FieldValue {
  json: string | undefined;
  held: string | undefined;
}

/** How a compare-and-set ended: Redis's reply, or the error it failed with. */
type Outcome = { reply: CompareAndSetReply } | { error: unknown };

/** A group whose compare-and-set is in flight. */
interface Flight {
  /** The session ID it was sent for: a renewal may move the queue to another while it flies. */
  sessionId: string;
  applied: Applied[];
  /** The string Redis must hold for the write to happen. */
  expected: string | undefined;
  next: FieldValue;
  /** Sent while `previous` was still in flight, expecting the value `previous` writes (speculative). */
  previous: Flight | undefined;
  written?: boolean;
  /** The expiry the group's write gives the session, when it moves it. */
  expiresAt: number | undefined;
  outcome: Promise<Outcome>;
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
  known: FieldValue;
  waiting: PendingUpdate[];
  /** Wakes the drain when an update arrives while it waits for a reply with a free pipeline slot. */
  wake: (() => void) | undefined;
}

/**
 * Atomic updates of one session key (`SessionService.update`), with group commit: the updates of a
 * key queued in this process are applied in memory in order, each to its predecessor's result, and
 * written together by one compare-and-set. Each caller gets its own result or its own error.
 *
 * Pipelined: while one group's compare-and-set is in flight, the next group is applied to the value
 * that one writes and sent at once, expecting that value (Redis runs a connection's commands in
 * order), so a request no longer waits a whole round trip for the group ahead of it. At most
 * `PIPELINE_DEPTH` groups are in flight. A group that loses to another process makes the groups sent
 * behind it lose too; once they are all back, every update that lost is applied again, in order, to
 * the value Redis answered last, and written as one group. Only a loss to another process counts
 * towards `maxRetries` (and `updateRetried`); a key that keeps losing pauses a growing random time
 * before every other attempt.
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
        conflicts: 0,
      };
      const queue = this.queues.get(queueKey);
      if (queue) {
        queue.waiting.push(update); // the drain in progress picks it up with the next group
        queue.wake?.();
        return;
      }
      const fresh: FieldQueue = { sessionId, redisKey, field: key, hasKnown: false, known: NO_VALUE, waiting: [update], wake: undefined };
      this.queues.set(queueKey, fresh);
      void this.drain(queueKey, fresh);
    });
  }

  /** Sends the queue's updates group after group, up to `PIPELINE_DEPTH` in flight, until none is left; then forgets the key. */
  private async drain(queueKey: string, queue: FieldQueue): Promise<void> {
    const flights: Flight[] = [];
    let lost: PendingUpdate[] = []; // updates whose group lost, to be applied again before anything queued
    let streak = 0; // groups in a row lost to another process
    let pausedLast = false;
    const settle = async () => {
      const settled = await this.settleOldest(queue, flights, lost);
      if (settled === 'written') {
        streak = 0;
        pausedLast = false;
      } else if (settled === 'conflict') {
        streak++;
      }
    };
    while (queue.waiting.length > 0 || flights.length > 0 || lost.length > 0) {
      // Nothing goes out on top of a group whose own predecessor failed: it most likely fails too.
      const speculationSound = flights.length === 0 || !flights[0].previous || flights[0].previous.written === true;
      const canSend = lost.length > 0 ? flights.length === 0 : flights.length < PIPELINE_DEPTH && queue.waiting.length > 0 && speculationSound;
      if (canSend) {
        if (lost.length === 0 && !queue.waiting[0].state.stored) {
          if (flights.length > 0) {
            await settle();
            continue;
          }
          await this.writeUnstored(queue, queue.waiting.shift()!);
          continue;
        }
        if (lost.length > 0) {
          if (streak >= IMMEDIATE_RETRIES && !pausedLast) {
            await pause(streak - IMMEDIATE_RETRIES + 1);
            pausedLast = true;
          } else {
            pausedLast = false;
          }
        }
        // A session first stored by this very request may sit behind stored ones; it goes in a later group.
        const end = queue.waiting.findIndex((update) => !update.state.stored);
        const group = lost.concat(queue.waiting.splice(0, end === -1 ? queue.waiting.length : end));
        lost = [];
        const previous = flights[flights.length - 1];
        const base = previous ? previous.next : queue.hasKnown ? queue.known : heldValue(group[0].state, queue.field);
        const applied = await this.applyInOrder(queue.field, base.json, group);
        if (applied.length > 0) flights.push(this.send(queue, applied, base.held, previous));
        continue;
      }
      // Nothing to send now: wait for the oldest reply, or, with a slot free, for an update to arrive.
      const oldest = flights[0];
      if (flights.length < PIPELINE_DEPTH && lost.length === 0 && speculationSound) {
        const arrived = new Promise<void>((resolve) => (queue.wake = resolve));
        const first = await Promise.race([oldest.outcome.then(() => 'reply' as const), arrived.then(() => 'update' as const)]);
        queue.wake = undefined;
        if (first === 'update') {
          // Let the other requests answered in this turn of the event loop join the group.
          await new Promise((resolve) => setImmediate(resolve));
          continue;
        }
      }
      await settle();
    }
    this.queues.delete(queueKey);
  }

  private send(queue: FieldQueue, applied: Applied[], expected: string | undefined, previous: Flight | undefined): Flight {
    const json = applied[applied.length - 1].json;
    const next: FieldValue = { json, held: this.sessions.sealValue(queue.redisKey, queue.field, json) };
    const now = Date.now();
    const expiresAt = Math.max(...applied.map((entry) => entry.expiresAt));
    const states = applied.map((entry) => entry.update.state);
    // The write slides the expiry, so it stamps a logged-in session's last-seen time and pushes its
    // user index's expiry when that needs it, as a slide does.
    const slides = expiresAt > now;
    const indexed = slides ? states.find((state) => state.indexEntry) : undefined;
    const push = indexed && this.sessions.indexKeeper?.pushExpiry(indexed, expiresAt);
    const written = this.sessions.gateway.compareAndSet({
      redisKey: queue.redisKey,
      field: queue.field,
      expected,
      next: next.held,
      expiresAt,
      now,
      lastSeenAt: slides && states.some((state) => state.stored?.has(FIELD.lastSeenAt)) ? now : undefined,
    });
    const outcome: Promise<Outcome> = (push ? Promise.all([written, push]).then(([reply]) => reply) : written).then(
      (reply) => ({ reply }),
      (error: unknown) => ({ error }),
    );
    return { sessionId: queue.sessionId, applied, expected, next, previous, expiresAt: slides ? expiresAt : undefined, outcome };
  }

  /**
   * Settles the oldest group in flight: its callers get their results, or their errors, or the
   * updates go back to `lost` to be applied again to the value Redis answered. Says whether the group
   * was written or lost to another process ('conflict'); 'other' for everything else, including a
   * loss that only follows from the loss of the group it was sent behind.
   */
  private async settleOldest(queue: FieldQueue, flights: Flight[], lost: PendingUpdate[]): Promise<'written' | 'conflict' | 'other'> {
    const flight = flights.shift()!;
    const outcome = await flight.outcome;
    const { previous } = flight;
    flight.previous = undefined; // the group behind needs only this one's outcome: no chain through a long burst
    const { field } = queue;
    const pending = flight.applied.map((entry) => entry.update);
    if ('error' in outcome) {
      // Redis failed (or timed out): what it holds now is unknown, so the next group starts afresh.
      queue.hasKnown = false;
      for (const update of pending) update.reject(outcome.error);
      return 'other';
    }
    const { reply } = outcome;
    if (reply.status === 'written') {
      flight.written = true;
      queue.hasKnown = true;
      queue.known = flight.next;
      const last = flight.applied[flight.applied.length - 1];
      for (const entry of flight.applied) {
        // An earlier caller's state gets a seal of its own result, which Redis does not hold: a later
        // update from its session then misses and retries, as it does on the JSON without encryption.
        const held = entry === last ? flight.next.held : this.sessions.sealValue(queue.redisKey, field, entry.json);
        settleWritten(field, entry, held, flight.expiresAt);
      }
      return 'written';
    }
    if (reply.status === 'moved') {
      // Renewed while queued: the updates go again under the successor, from what it holds (no retry counted).
      try {
        await this.followRenewal(queue, flight.sessionId);
      } catch (error) {
        queue.hasKnown = false;
        for (const update of pending) update.reject(error);
        return 'other';
      }
      // Their requests answer with the new ID, as the requests that met the renewal on the way in.
      for (const update of pending) update.state.renewedId = queue.sessionId;
      lost.push(...pending);
      return 'other';
    }
    if (reply.status === 'gone') {
      queue.hasKnown = false;
      for (const update of pending) update.reject(new SessionConflictError(messages.sessionGone(), 'gone'));
      return 'other';
    }
    // Redis holds something else than expected: the base of the next attempt.
    try {
      queue.known = { json: this.sessions.openValue(queue.redisKey, field, reply.current), held: reply.current };
      queue.hasKnown = true;
    } catch (error) {
      if (!(error instanceof UnopenableSessionError)) throw error;
      // A value that does not open (logged once): to this request the session is gone.
      queue.hasKnown = false;
      for (const update of pending) update.reject(new SessionConflictError(messages.sessionGone(), 'gone'));
      return 'other';
    }
    if (previous && !previous.written) {
      // It expected what the group ahead of it would write, and that one did not: a loss to ourselves.
      lost.push(...pending);
      return 'other';
    }
    const gaveUp = pending.filter((update) => ++update.conflicts > this.maxRetries);
    if (gaveUp.length > 0) this.sessions.observer?.updateGaveUp?.();
    else this.sessions.observer?.updateRetried?.();
    for (const update of pending) {
      if (update.conflicts > this.maxRetries) update.reject(new SessionConflictError(messages.updateConflict(field, update.conflicts), 'contention'));
      else lost.push(update);
    }
    return 'conflict';
  }

  /** Points the queue at the successor of the session renewed under `movedFrom` and reads the field's value there. */
  private async followRenewal(queue: FieldQueue, movedFrom: string): Promise<void> {
    if (queue.sessionId === movedFrom) {
      const successor = await this.sessions.forwarding.successorOf(movedFrom);
      if (successor === undefined) throw new SessionConflictError(messages.sessionGone(), 'gone');
      queue.sessionId = successor;
      queue.redisKey = this.sessions.redisKeyOf(successor);
    }
    // Sealed for the successor's key under `encryption`: opened with it (an unopenable value rejects the updates).
    const held = await this.sessions.gateway.readField(queue.redisKey, queue.field);
    queue.known = { json: this.sessions.openValue(queue.redisKey, queue.field, held), held };
    queue.hasKnown = true;
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
        // First the expiry its write would give the session: a cookie app code broke (an invalid maxAge)
        // fails its own caller here, before its change runs, never the group or the process.
        const expiresAt = this.sessions.expiryOf(update.session as never, update.state.createdAt, Date.now());
        const value = await update.change(copyOf(current));
        const json = toJson(field, value);
        checkSize(this.sessions.maxSessionBytes, update.state.stored!, field, json);
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
function settleWritten(field: string, { update, value, json }: Applied, held: string | undefined, expiresAt: number | undefined): void {
  const { stored, held: heldMap } = update.state;
  if (expiresAt !== undefined) update.state.expiresAt = expiresAt;
  if (json === undefined) {
    delete update.session[field];
    stored!.delete(field);
    heldMap?.delete(field);
  } else {
    update.session[field] = value;
    stored!.set(field, json);
    heldMap?.set(field, held!);
  }
  update.resolve(value);
}

const NO_VALUE: FieldValue = { json: undefined, held: undefined };

/** A field as the session's state says Redis holds it. */
function heldValue(state: SessionState, field: string): FieldValue {
  const json = state.stored!.get(field);
  return { json, held: state.held ? state.held.get(field) : json };
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

/** Groups of one key in flight at once: one waiting for its reply, one sent behind it. */
const PIPELINE_DEPTH = 2;

/** Conflicts in a row with other processes retried without any pause. */
const IMMEDIATE_RETRIES = 3;

/** Random pause growing with each conflict in a row, so processes contending for one key spread out. */
function pause(streak: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** streak, 50);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
