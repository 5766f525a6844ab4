import type { CompareAndSetReply } from '../redis/session-gateway';
import { isLeftSealed, openLeftSealed } from '../store/left-sealed';
import type { SessionState } from '../store/session-state';

// The shapes `SessionKeyUpdates` keeps per session key: the updates waiting, the groups in flight,
// and what this process knows Redis holds.

/** A change function of `SessionService.update`; it gets its own copy of the value and may mutate it. */
export type KeyChange = (current: unknown) => unknown;

/** One caller's update, waiting for its group to be written. */
export interface PendingUpdate {
  session: Record<string, unknown>;
  state: SessionState;
  change: KeyChange;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Compare-and-sets of this update lost to another process (not to this process's own pipeline). */
  conflicts: number;
}

/** A change applied in memory, to be written with its group. */
export interface Applied {
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
export interface FieldValue {
  json: string | undefined;
  held: string | undefined;
}

/** No value: the field is absent. */
export const NO_VALUE: FieldValue = { json: undefined, held: undefined };

/** How a compare-and-set ended: Redis's reply, or the error it failed with. */
export type Outcome = { reply: CompareAndSetReply } | { error: unknown };

/** A group whose compare-and-set is in flight. */
export interface Flight {
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
  /** Resolves once the compare-and-set is answered; `result` is set by then. */
  outcome: Promise<Outcome>;
  /** How the compare-and-set ended, once it has: what the drain settles, without another await. */
  result: Outcome | undefined;
}

/**
 * The updates of one session field in this process. `known` is what this process last saw in Redis
 * (what it wrote, or what a failed compare-and-set answered); it lives only while updates are queued
 * and to the end of the event loop's turn that answered the last of them (for the updates their
 * callers make next), so a value is never trusted across bursts.
 */
export interface FieldQueue {
  sessionId: string;
  redisKey: string;
  field: string;
  hasKnown: boolean;
  known: FieldValue;
  waiting: PendingUpdate[];
  /** Wakes the drain when an update arrives while it waits for a reply with a free pipeline slot. */
  wake: (() => void) | undefined;
}

/** A field as the session's state says Redis holds it; a value the request's read left sealed is opened (undefined if it does not open). */
export function heldValue(state: SessionState, field: string): FieldValue {
  const stored = state.stored!;
  let json = stored.get(field);
  if (json !== undefined && isLeftSealed(json)) json = openLeftSealed(state, stored, field);
  return { json, held: state.held ? state.held.get(field) : json };
}
