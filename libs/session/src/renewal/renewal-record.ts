/** Periodic ID renewal (`renewal` option), when on. */
export interface RenewalSettings {
  /** Ms after its ID was issued after which a session gets a new one on its next request. */
  interval: number;
  /** Ms the old ID keeps leading to the new one, and a destroyed session's tombstone lasts. */
  grace: number;
}

// Defined beside the hash fields they read, so the gateway needs nothing from renewal/.
export { renewalRecordOf, type RenewalRecord } from '../redis/session-fields';
