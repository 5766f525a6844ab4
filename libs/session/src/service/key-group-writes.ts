import { messages } from '../errors/session.messages';
import { SessionConflictError } from '../errors/session-conflict.error';
import { FIELD } from '../redis/session-fields';
import { UnopenableSessionError } from '../store/session-codec';
import { expiryMoves, slideLag } from '../store/idle-slide';
import type { SessionCore } from '../store/session-core';
import type { SessionState } from '../store/session-state';
import { settleUnreached } from '../store/tracked-values';
import type { Applied, FieldQueue, FieldValue, Flight, PendingUpdate } from './key-update-queue';

/** How settling a group ended: written, lost to another process ('conflict'), or anything else. */
export type Settled = 'written' | 'conflict' | 'other';

/**
 * The Redis side of `SessionKeyUpdates`: sends a group's compare-and-set and settles its reply,
 * giving each caller its result or its error, or putting its update back to be applied again.
 */
export class KeyGroupWrites {
  constructor(
    private readonly core: SessionCore,
    private readonly maxRetries: number,
  ) {}

  /** Sends one group's compare-and-set, expecting `expected` (what `previous` writes, when one flies ahead). */
  send(queue: FieldQueue, applied: Applied[], expected: string | undefined, previous: Flight | undefined): Flight {
    const json = applied[applied.length - 1].json;
    const next: FieldValue = { json, held: this.core.context.sealing.sealValue(queue.redisKey, queue.field, json) };
    const now = Date.now();
    // One pass over the group (one update, most of the time): the expiry its latest caller asks for,
    // the latest expiry its sessions know Redis holds (none when one does not know), whether one of
    // them stamps a last-seen time, and the first that keeps a user index entry.
    let expiresAt = -Infinity;
    let knownExpiry: number | undefined = -Infinity;
    let stampsLastSeen = false;
    let indexedState: SessionState | undefined;
    for (const entry of applied) {
      const { state } = entry.update;
      expiresAt = Math.max(expiresAt, entry.expiresAt);
      knownExpiry = knownExpiry === undefined || state.expiresAt === undefined ? undefined : Math.max(knownExpiry, state.expiresAt);
      stampsLastSeen ||= state.stored?.has(FIELD.lastSeenAt) === true;
      if (!indexedState && state.indexEntry) indexedState = state;
    }
    // The write slides the expiry once that is due (`touchAfter`, which Redis checks against the
    // expiry it holds), and then stamps a logged-in session's last-seen time and pushes its user
    // index's expiry when that needs it, as a slide does.
    const cookie = applied[0].update.session.cookie as { originalMaxAge?: unknown } | undefined;
    const minGain = slideLag(this.core.context.slides, cookie?.originalMaxAge);
    const slides = expiresAt > now && expiryMoves(knownExpiry, expiresAt, minGain);
    const push = slides && indexedState ? this.core.indexKeeper?.pushExpiry(indexedState, expiresAt) : undefined;
    const written = this.core.gateway.compareAndSet({
      redisKey: queue.redisKey,
      field: queue.field,
      expected,
      next: next.held,
      expiresAt,
      now,
      lastSeenAt: stampsLastSeen ? now : undefined,
      minGain,
      expectedExpiry: knownExpiry,
    });
    // The reply is kept on the flight as it arrives (the callbacks run only after `flight` is assigned).
    // eslint-disable-next-line prefer-const -- assigned below, read by the callbacks
    let flight: Flight;
    const outcome = (push ? Promise.all([written, push]).then(([reply]) => reply) : written).then(
      (reply) => (flight.result = { reply }),
      (error: unknown) => (flight.result = { error }),
    );
    flight = { sessionId: queue.sessionId, applied, expected, next, previous, expiresAt: slides ? expiresAt : undefined, outcome, result: undefined };
    return flight;
  }

  /**
   * Settles the oldest group in flight: its callers get their results, or their errors, or the
   * updates go back to `lost` to be applied again to the value Redis answered. Says whether the group
   * was written or lost to another process ('conflict'); 'other' for everything else, including a
   * loss that only follows from the loss of the group it was sent behind.
   */
  settleOldest(queue: FieldQueue, flights: Flight[], lost: PendingUpdate[]): Settled | Promise<Settled> {
    const flight = flights.shift()!;
    const outcome = flight.result;
    if (outcome === undefined) throw new Error('settleOldest: the oldest group in flight has no reply yet');
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
        const held = entry === last ? flight.next.held : this.core.context.sealing.sealValue(queue.redisKey, field, entry.json);
        settleWritten(field, entry, held, flight.expiresAt);
      }
      return 'written';
    }
    if (reply.status === 'moved') {
      // Renewed while queued: the updates go again under the successor, from what it holds (no retry counted).
      return this.followRenewal(queue, flight.sessionId).then(
        () => {
          // Their requests answer with the new ID, as the requests that met the renewal on the way in.
          for (const update of pending) update.state.renewedId = queue.sessionId;
          lost.push(...pending);
          return 'other' as const;
        },
        (error: unknown) => {
          queue.hasKnown = false;
          for (const update of pending) update.reject(error);
          return 'other' as const;
        },
      );
    }
    if (reply.status === 'gone') {
      queue.hasKnown = false;
      for (const update of pending) update.reject(new SessionConflictError(messages.sessionGone(), 'gone'));
      return 'other';
    }
    // Redis holds something else than expected: the base of the next attempt.
    try {
      queue.known = { json: this.core.context.sealing.openValue(queue.redisKey, field, reply.current), held: reply.current };
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
    // Counted per call, as the metrics document them: each update that gives up, each that tries again.
    const observer = this.core.context.observer;
    for (const update of pending) {
      if (++update.conflicts > this.maxRetries) {
        observer?.updateGaveUp?.();
        update.reject(new SessionConflictError(messages.updateConflict(field, update.conflicts), 'contention'));
      } else {
        observer?.updateRetried?.();
        lost.push(update);
      }
    }
    return 'conflict';
  }

  /** Points the queue at the successor of the session renewed under `movedFrom` and reads the field's value there. */
  private async followRenewal(queue: FieldQueue, movedFrom: string): Promise<void> {
    if (queue.sessionId === movedFrom) {
      const successor = await this.core.forwarding.successorOf(movedFrom);
      if (successor === undefined) throw new SessionConflictError(messages.sessionGone(), 'gone');
      queue.sessionId = successor;
      queue.redisKey = this.core.context.redisKeyOf(successor);
    }
    // Sealed for the successor's key under `encryption`: opened with it. One that does not open reads
    // as absent (logged once), as on a request's read, and the compare-and-set replaces what Redis holds.
    const held = await this.core.gateway.readField(queue.redisKey, queue.field);
    let json: string | undefined;
    try {
      json = this.core.context.sealing.openValue(queue.redisKey, queue.field, held);
    } catch (error) {
      if (!(error instanceof UnopenableSessionError)) throw error;
      this.core.context.ignoreUnopenableKey(queue.redisKey, queue.field, error.message);
    }
    queue.known = { json, held };
    queue.hasKnown = true;
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
    stored!.set(field, json);
    heldMap?.set(field, held!);
    // The request reads the value from the JSON written (its own copy, not the caller's result, so the
    // end-of-request save knows it unchanged without a stringify); a key not tracked takes the result.
    if (!settleUnreached(update.session, update.state, field)) update.session[field] = value;
  }
  update.resolve(value);
}
