import { messages } from '../errors/session.messages';
import { FIELD } from '../redis/session-fields';
import { digestOf, newSessionId } from '../redis/session-id';
import type { SessionPersistence } from '../store/session-persistence';
import { openSuccessor, sealSuccessor } from './successor-seal';

/** Grace a pointer gets when this replica has no `renewal` of its own (a rolling deploy turning it on). */
const FALLBACK_GRACE_MS = 60_000; // 1 min

/**
 * Moves a session to a new ID while requests still hold the old one (see `renewal-scripts.ts` for
 * the three steps). The old key points to the new one for the grace window; every reader and writer
 * that meets it comes here, finishes a renewal left half-way, and goes on under the successor, so
 * all of them, on any replica, end up on the one successor the claim decided.
 */
export class SessionForwarding {
  constructor(private readonly sessions: SessionPersistence) {}

  /**
   * Gives the session under `oldId` a new ID, or answers the one a concurrent renewal gave it.
   * Undefined when the session is gone. Counted (`sessionRenewed`) by the claimant only.
   */
  async renew(oldId: string): Promise<string | undefined> {
    const redisKey = this.sessions.redisKeyOf(oldId);
    const claim = await this.sessions.gateway.claimRenewal(redisKey, sealSuccessor(newSessionId(), oldId));
    if (claim.status === 'gone') return undefined;
    const successor = await this.finish(oldId, claim.sealedSuccessor, claim.fields, claim.expiresAt);
    if (successor !== undefined && claim.status === 'claimed') this.sessions.observer?.sessionRenewed?.();
    return successor;
  }

  /**
   * The successor of a renewed session's old ID (a write to it answered 'moved'), the renewal
   * finished first if it was left half-way; undefined when the old key is gone or not renewed.
   */
  async successorOf(oldId: string): Promise<string | undefined> {
    const redisKey = this.sessions.redisKeyOf(oldId);
    const stored = await this.sessions.gateway.loadSession({
      redisKey,
      now: Date.now(),
      slideBy: 0,
      absoluteTimeout: 0,
      lastSeenInterval: Number.MAX_SAFE_INTEGER,
    });
    if (!stored || stored === 'wrongType') return undefined;
    const { sealed, fields } = splitSuccessor(stored.fields);
    return sealed === undefined ? undefined : this.finish(oldId, sealed, fields, stored.expiresAt);
  }

  /**
   * Opens the successor's ID and, when the old key still holds the session (claimed, not retired),
   * plants it under the new key, moves its user index entry and retires the old key. A key deleted
   * meanwhile (a logout or revoke racing the renewal) takes the planted copy with it.
   */
  async finish(oldId: string, sealed: string, fields: string[], expiresAt: number): Promise<string | undefined> {
    const successor = openSuccessor(sealed, oldId);
    if (successor === undefined) {
      this.sessions.logger.warn(messages.corruptValue(digestOf(oldId), `its "${FIELD.successor}" field does not open`));
      return undefined;
    }
    if (fields.length === 0) return successor; // retired: the successor holds the session (or is gone)
    const { gateway } = this.sessions;
    const now = Date.now();
    const newKey = this.sessions.redisKeyOf(successor);
    const planted = await gateway.plantSuccessor({ redisKey: newKey, expiresAt: expiresAt > 0 ? expiresAt : now + this.sessions.ttl, now, fields });
    if (planted === 'expired') return undefined;
    await this.sessions.indexKeeper?.follow(this.sessions.indexEntryOfFields(fields, digestOf(oldId)), digestOf(successor));
    const grace = this.sessions.renewal?.grace ?? FALLBACK_GRACE_MS;
    if ((await gateway.retireRenewed(this.sessions.redisKeyOf(oldId), sealed, grace)) === 'gone') {
      await this.sessions.destroy(successor, 'logout');
      return undefined;
    }
    return successor;
  }
}

/** HGETALL's flat list without the successor field, and that field's value. */
export function splitSuccessor(flat: string[]): { sealed: string | undefined; fields: string[] } {
  let sealed: string | undefined;
  const fields: string[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === FIELD.successor) sealed = flat[i + 1];
    else fields.push(flat[i], flat[i + 1]);
  }
  return { sealed, fields };
}
