import { Cluster, type Redis } from 'ioredis';
import { ACTIVITY_ADD, type ActivityArgs } from './activity-script';
import type { GatewayCalls } from './gateway-calls';

/* The gateway's calls across many keys: scans under the prefix, and the activity HyperLogLogs. */

/** See `SessionGateway.scanKeys`. */
export async function scanKeys(calls: GatewayCalls, pattern: string, type?: 'hash'): Promise<string[]> {
  const client = calls.client;
  const nodes = client instanceof Cluster ? await masters(calls, client) : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const args: (string | number)[] = ['MATCH', pattern, 'COUNT', 1000];
      if (type) args.push('TYPE', type);
      const [next, batch] = (await calls.call('scan', () => node.call('SCAN', cursor, ...args))) as [string, string[]];
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

/** A Cluster client lists its masters only once connected: before that a scan would see no key at all. */
async function masters(calls: GatewayCalls, cluster: Cluster): Promise<Redis[]> {
  if (cluster.status !== 'ready') await calls.call('scan', () => cluster.ping());
  return cluster.nodes('master');
}

/** See `SessionGateway.addActivity`. */
export function addActivity(calls: GatewayCalls, activity: ActivityArgs): Promise<number> {
  return calls.script('activity', ACTIVITY_ADD, activity);
}

/** PFCOUNT over several HyperLogLogs of one slot: the size of their union. */
export function countDistinct(calls: GatewayCalls, redisKeys: string[]): Promise<number> {
  return calls.call('activity', (client) => client.pfcount(...redisKeys));
}
