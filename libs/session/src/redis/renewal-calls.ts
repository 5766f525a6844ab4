import type { GatewayCalls } from './gateway-calls';
import { RENEW_CLAIM, RENEW_PLANT, RENEW_RETIRE, type PlantArgs, type PlantStatus, type RenewClaimReply } from './renewal-scripts';

/* The gateway's three steps of a periodic ID renewal (see renewal-scripts.ts). */

/** See `SessionGateway.claimRenewal`. */
export function claimRenewal(calls: GatewayCalls, redisKey: string, sealedSuccessor: string): Promise<RenewClaimReply> {
  return calls.script('renew', RENEW_CLAIM, { redisKey, sealedSuccessor }, ({ status }) => ({ result: status === 'gone' ? 'gone' : 'ok' }), redisKey);
}

/** See `SessionGateway.plantSuccessor`. */
export function plantSuccessor(calls: GatewayCalls, plant: PlantArgs): Promise<PlantStatus> {
  return calls.script('renew', RENEW_PLANT, plant, undefined, plant.redisKey);
}

/** See `SessionGateway.retireRenewed`. */
export function retireRenewed(calls: GatewayCalls, redisKey: string, sealedSuccessor: string, grace: number): Promise<'retired' | 'gone'> {
  return calls.script(
    'renew',
    RENEW_RETIRE,
    { redisKey, sealedSuccessor, grace, now: Date.now() },
    (status) => ({ result: status === 'gone' ? 'gone' : 'ok' }),
    redisKey,
  );
}
