import { USER_KEY } from '../session.constants';
import type { SessionUser } from '../session-data';
import type { StoredFields } from '../redis/session-gateway';
import { digestOf, newSessionId } from '../redis/session-id';
import { decodeSession } from '../store/session-codec';
import type { SessionCore } from '../store/session-core';
import { stateOf } from '../store/session-state';
import type { StoredSession } from '../store/store-ports';
import { sealSuccessor } from '../store/successor-seal';

/**
 * Periodic ID renewal (`renewal` option), on the way in: a session whose ID is older than the
 * interval moves to a new ID before the request sees it, its data and user index entry kept. The
 * request then holds the session under its new ID (`renewedId`), and the lifecycle sends the new
 * cookie as it does after a `regenerate`. Requests still holding the old ID follow it for the grace
 * window (`SessionForwarding`), wherever they run.
 */
export class SessionRenewal {
  constructor(private readonly core: SessionCore) {}

  /** The session a request with `sessionId` gets: renewed first when due; null when there is none. */
  async load(sessionId: string): Promise<StoredSession | null> {
    const { reader, context } = this.core;
    const data = await reader.load(sessionId);
    const state = data && stateOf(data);
    if (!state || !context.renewalDue(state)) return data;
    const successor = await this.renew(state.renewedId ?? sessionId);
    const renewed = successor === undefined ? null : await reader.load(successor);
    if (renewed) stateOf(renewed)!.renewedId ??= successor;
    return renewed;
  }

  /**
   * Gives the session under `oldId` a new ID, or answers the one a concurrent renewal gave it (see
   * `renewal-scripts.ts` for the claim). Undefined when the session is gone. Counted
   * (`sessionRenewed`) and told as an event by the claimant only. An ID change: with `durability`
   * on, it resolves once replicas have it, as a `regenerate` does.
   */
  private renew(oldId: string): Promise<string | undefined> {
    return this.core.gateway.durably(() => this.moveToNewId(oldId));
  }

  private async moveToNewId(oldId: string): Promise<string | undefined> {
    const { context, gateway, forwarding } = this.core;
    const redisKey = context.redisKeyOf(oldId);
    const claim = await gateway.claimRenewal(redisKey, sealSuccessor(newSessionId(), oldId));
    if (claim.status === 'gone') return undefined;
    const successor = await forwarding.finish(oldId, claim.sealedSuccessor, claim.fields);
    if (successor !== undefined && claim.status === 'claimed') {
      context.observer?.sessionRenewed?.();
      this.reportMoved(oldId, successor, redisKey, claim.fields);
    }
    return successor;
  }

  /**
   * A renewal is a session moving to a new ID: like `regenerate`, one `created` event naming the ID it
   * left, so a subscriber that tracks sessions by digest (a live list) follows it to its logout.
   */
  private reportMoved(oldId: string, successor: string, oldKey: string, fields: StoredFields): void {
    const { context } = this.core;
    const observer = context.observer;
    if (!observer?.sessionEvent) return;
    let userId: string | undefined;
    try {
      const { data } = decodeSession(fields, context.cookieTemplateJson, Date.now(), context.sealing.sealingFor(oldKey));
      const id = (data[USER_KEY] as Partial<SessionUser> | undefined)?.id;
      userId = id === undefined || id === null ? undefined : String(id);
    } catch {
      // unopenable: the successor's read logs it; the event goes without the user
    }
    observer.sessionEvent({ type: 'created', digest: digestOf(successor), previousDigest: digestOf(oldId), userId });
  }
}
