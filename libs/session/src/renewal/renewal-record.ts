import { FIELD } from '../redis/session-fields';
import type { StoredFields } from '../redis/session-gateway';

/** Periodic ID renewal (`renewal` option), when on. */
export interface RenewalSettings {
  /** Ms after its ID was issued after which a session gets a new one on its next request. */
  interval: number;
  /** Ms the old ID keeps leading to the new one, and a destroyed session's tombstone lasts. */
  grace: number;
}

/**
 * What a session key's hash is, as a read finds it: a live `session`; the old key of a `renewed`
 * session (it holds its successor, sealed, and until retired the session's final fields); or an
 * `ended` one, the tombstone a destroy leaves while renewal is on, which every read takes as absent.
 */
export type RenewalRecord = 'session' | 'renewed' | 'ended';

export function renewalRecordOf(fields: StoredFields): RenewalRecord {
  if (fields[FIELD.ended] !== undefined) return 'ended';
  if (fields[FIELD.successor] !== undefined) return 'renewed';
  return 'session';
}
