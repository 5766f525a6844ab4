import type { Cluster, Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';

/** A key prefix no other suite (or earlier run) uses, so suites can share one Redis. */
export function uniquePrefix(label: string): string {
  return `t:${label}:${randomBytes(4).toString('hex')}:`;
}

const SCAN_BATCH = 500;

/**
 * Deletes every key under `prefix` and returns how many there were. On a
 * cluster each master holds only its own slots, so each one is scanned.
 * Expects a client without ioredis' `keyPrefix` option.
 */
export async function deleteByPrefix(client: Redis | Cluster, prefix: string): Promise<number> {
  const pattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}*`;
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis];
  let deleted = 0;
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', SCAN_BATCH);
      cursor = next;
      // One key per UNLINK: keys of one batch can sit in different cluster slots.
      const counts = await Promise.all(keys.map((key) => client.unlink(key)));
      deleted += counts.reduce((sum, n) => sum + n, 0);
    } while (cursor !== '0');
  }
  return deleted;
}
