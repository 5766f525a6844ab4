import { messages } from '../errors/session.messages';
import { SessionDataError } from '../errors/session-data.error';
import { RESERVED_PREFIX } from '../redis/session-fields';
import type { SessionCore } from '../store/session-core';
import { isForbiddenKey } from '../store/session-validation';
import { KeyChangeRunner } from './key-change-runner';
import { KeyGroupWrites, type Settled } from './key-group-writes';
import { heldValue, NO_VALUE, type FieldQueue, type Flight, type KeyChange, type PendingUpdate } from './key-update-queue';

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
  private readonly changes: KeyChangeRunner;
  private readonly writes: KeyGroupWrites;

  constructor(
    private readonly core: SessionCore,
    maxRetries: number,
  ) {
    this.changes = new KeyChangeRunner(core);
    this.writes = new KeyGroupWrites(core, maxRetries);
  }

  /** Applies `change` to the session's `key` atomically, with the updates of that key queued in this process; answers its result. */
  update<T>(sessionId: string, session: Record<string, unknown>, key: string, change: (current: T | undefined) => T | Promise<T>): Promise<T> {
    if (key === 'cookie') return Promise.reject(new SessionDataError(messages.cookieKeyInUpdate(), key));
    if (key[0] === RESERVED_PREFIX) return Promise.reject(new SessionDataError(messages.reservedKey(key), key));
    if (isForbiddenKey(key)) return Promise.reject(new SessionDataError(messages.forbiddenKey(key), key));
    const redisKey = this.core.context.redisKeyOf(sessionId);
    const queueKey = `${redisKey}\u0000${key}`;
    return new Promise<T>((resolve, reject) => {
      const update: PendingUpdate = {
        session,
        state: this.core.context.stateFor(session),
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
      void this.drainSafely(queueKey, fresh);
    });
  }

  /**
   * `drain`, with a net under it: an error it does not expect (a bug, or a failure of a part it
   * trusts) rejects every update of the key it still holds, so no caller waits for ever and no
   * rejection goes unhandled, and the key is forgotten, so the next update starts a fresh queue.
   */
  private drainSafely(queueKey: string, queue: FieldQueue): void {
    const held: HeldUpdates = { flights: [], lost: [], inHand: NONE, settling: undefined };
    this.drain(queueKey, queue, held).catch((error: unknown) => {
      const settling = held.settling ? held.settling.applied.map((entry) => entry.update) : [];
      const stranded = [
        ...held.inHand,
        ...settling,
        ...held.lost,
        ...held.flights.flatMap((flight) => flight.applied.map((entry) => entry.update)),
        ...queue.waiting,
      ];
      queue.waiting = [];
      if (this.queues.get(queueKey) === queue) this.queues.delete(queueKey);
      for (const update of stranded) update.reject(error); // one already answered ignores it
    });
  }

  /** Sends the queue's updates group after group, up to `PIPELINE_DEPTH` in flight, until none is left; then forgets the key. */
  private async drain(queueKey: string, queue: FieldQueue, held: HeldUpdates): Promise<void> {
    const { flights } = held;
    let lost: PendingUpdate[] = (held.lost = []); // updates whose group lost, to be applied again before anything queued
    let streak = 0; // groups in a row lost to another process
    let pausedLast = false;
    const settled = (result: Settled) => {
      held.settling = undefined;
      if (result === 'written') {
        streak = 0;
        pausedLast = false;
      } else if (result === 'conflict') {
        streak++;
      }
    };
    // Settles the oldest group, whose reply has arrived (`result`); a promise only when that takes Redis again (a renewal met).
    const settle = (): Promise<void> | undefined => {
      held.settling = flights[0];
      const result = this.writes.settleOldest(queue, flights, lost);
      if (typeof result === 'string') return void settled(result);
      return result.then(settled);
    };
    do {
      while (queue.waiting.length > 0 || flights.length > 0 || lost.length > 0) {
        // Nothing goes out on top of a group whose own predecessor failed: it most likely fails too.
        const speculationSound = flights.length === 0 || !flights[0].previous || flights[0].previous.written === true;
        const canSend = lost.length > 0 ? flights.length === 0 : flights.length < PIPELINE_DEPTH && queue.waiting.length > 0 && speculationSound;
        if (canSend) {
          if (lost.length === 0 && !queue.waiting[0].state.stored) {
            if (flights.length > 0) {
              if (flights[0].result === undefined) await flights[0].outcome;
              const renewing = settle();
              if (renewing) await renewing;
              continue;
            }
            held.inHand = [queue.waiting.shift()!];
            await this.changes.writeUnstored(queue, held.inHand[0]);
            held.inHand = NONE;
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
          const taken = queue.waiting.splice(0, end === -1 ? queue.waiting.length : end);
          const group = lost.length > 0 ? lost.concat(taken) : taken;
          held.inHand = group;
          lost = held.lost = [];
          const previous = flights[flights.length - 1];
          const base = previous ? previous.next : queue.hasKnown ? queue.known : heldValue(group[0].state, queue.field);
          const applying = this.changes.applyInOrder(queue.field, base.json, group);
          const applied = Array.isArray(applying) ? applying : await applying;
          if (applied.length > 0) flights.push(this.writes.send(queue, applied, base.held, previous));
          held.inHand = NONE;
          continue;
        }
        // Nothing to send now: wait for the oldest reply, or, with a slot free, for an update to arrive.
        const oldest = flights[0];
        if (oldest.result === undefined) {
          const takesArrivals = flights.length < PIPELINE_DEPTH && lost.length === 0 && speculationSound;
          const woke = await new Promise<'reply' | 'update'>((resolve) => {
            if (takesArrivals) queue.wake = () => resolve('update');
            void oldest.outcome.then(() => resolve('reply'));
          });
          queue.wake = undefined;
          if (woke === 'update') {
            // Let the other requests answered in this turn of the event loop join the group.
            await turnEnd();
            continue;
          }
        }
        const renewing = settle();
        if (renewing) await renewing;
      }
      // The callers just answered may update the key again as they go on (the next step of a handler,
      // a retry): the queue waits for this turn of the event loop to end, so those updates join it and
      // start from what it knows Redis holds rather than from their own, maybe older, read.
      await turnEnd();
    } while (queue.waiting.length > 0);
    this.queues.delete(queueKey); // in the same turn as the last check of `waiting`: an update arriving later starts a fresh queue
  }
}

/** What a drain holds besides the queue's waiting updates, for `drainSafely` to answer if it fails. */
interface HeldUpdates {
  flights: Flight[];
  lost: PendingUpdate[];
  /** A group taken from the queue and not yet in flight. */
  inHand: readonly PendingUpdate[];
  /** The group being settled: out of `flights`, its callers not all answered yet. */
  settling: Flight | undefined;
}

/** No updates in hand; never changed. */
const NONE: readonly PendingUpdate[] = [];

/** Groups of one key in flight at once: one waiting for its reply, one sent behind it. */
const PIPELINE_DEPTH = 2;

/** Conflicts in a row with other processes retried without any pause. */
const IMMEDIATE_RETRIES = 3;

/** Resolves once this turn of the event loop is over (after its I/O callbacks and microtasks). */
function turnEnd(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Random pause growing with each conflict in a row, so processes contending for one key spread out. */
function pause(streak: number): Promise<void> {
  const ms = Math.random() * Math.min(2 ** streak, 50);
  return new Promise((resolve) => setTimeout(resolve, ms));
}
