import { Cluster, type Redis } from 'ioredis';

/** Options of `SessionHealthIndicator.isHealthy`. */
export interface SessionHealthOptions {
  /** Ms the whole check may take; a Redis that hangs is reported down when it runs out. @default 1_000 */
  timeout?: number;
  /**
   * What an evicting `maxmemory-policy` means: `'down'`, or `'warn'` (up, with a `warning`) where you
   * accept that Redis may drop live sessions under memory pressure.
   * @default 'down'
   */
  evictionPolicy?: 'down' | 'warn';
}

/** What the check found; `problems` empty means healthy. */
export interface SessionStoreHealth {
  /** Round trip of one PING, ms. */
  pingMs?: number;
  /** ROLE of the node (of each master on a cluster): 'master', or 'slave' for a read-only replica. */
  role?: string;
  /** `cluster_state` on a cluster. */
  clusterState?: string;
  /** 'unknown' where CONFIG is disabled (some managed services). */
  maxmemoryPolicy?: string;
  problems: string[];
  warnings: string[];
  // The near cache (issue 10) adds here whether its invalidation is armed.
}

const DEFAULT_TIMEOUT_MS = 1_000;

/**
 * Checks what a session store needs from Redis: it answers, it takes writes (a node that became a
 * replica after a failover does not), the cluster serves every slot, and memory pressure does not
 * evict sessions. Every session key has a TTL, so `volatile-*` policies evict sessions as surely as
 * `allkeys-*`: only `noeviction` keeps them (Redis then refuses writes, which the library reports).
 */
export async function probeSessionStore(client: Redis | Cluster, options: SessionHealthOptions = {}): Promise<SessionStoreHealth> {
  const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
  const health: SessionStoreHealth = { problems: [], warnings: [] };
  const status = client.status;
  if (status === 'reconnecting' || status === 'end' || status === 'close') {
    health.problems.push(`Redis connection is ${status}`);
    return health;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeout)));
  try {
    const outcome = await Promise.race([inspect(client, health, options), expired]);
    if (outcome === 'timeout') health.problems.push(`Redis did not answer the health check within ${timeout} ms`);
  } catch (error) {
    health.problems.push(`Redis failed the health check: ${(error as Error)?.message ?? String(error)}`);
  } finally {
    clearTimeout(timer);
  }
  return health;
}

async function inspect(client: Redis | Cluster, health: SessionStoreHealth, options: SessionHealthOptions): Promise<void> {
  const started = performance.now();
  await client.ping();
  health.pingMs = Math.round((performance.now() - started) * 1_000) / 1_000;
  const cluster = client instanceof Cluster;
  if (cluster) {
    const info = String(await client.call('CLUSTER', 'INFO'));
    health.clusterState = /cluster_state:(\w+)/.exec(info)?.[1] ?? 'unknown';
    if (health.clusterState !== 'ok') health.problems.push(`Redis Cluster state is "${health.clusterState}": some slots are not served`);
  }
  const nodes = cluster ? client.nodes('master') : [client];
  const roles = await Promise.all(nodes.map(async (node) => String(((await node.call('ROLE')) as unknown[])[0])));
  health.role = [...new Set(roles)].join(',');
  roles.forEach((role, i) => {
    if (role !== 'master')
      health.problems.push(
        `Redis at ${addressOf(nodes[i])} is a read-only ${role === 'slave' ? 'replica' : role} (after a failover?): sessions cannot be written`,
      );
  });
  const policies = await Promise.all(nodes.map((node) => evictionPolicyOf(node)));
  health.maxmemoryPolicy = [...new Set(policies)].join(',');
  const evicting = policies.find((policy) => policy !== 'noeviction' && policy !== 'unknown');
  if (evicting) {
    const message = `Redis maxmemory-policy is "${evicting}": under memory pressure Redis silently evicts live sessions (use "noeviction")`;
    (options.evictionPolicy === 'warn' ? health.warnings : health.problems).push(message);
  }
}

async function evictionPolicyOf(node: Redis): Promise<string> {
  try {
    const reply = (await node.call('CONFIG', 'GET', 'maxmemory-policy')) as string[];
    return reply[1] ?? 'unknown';
  } catch {
    return 'unknown'; // CONFIG renamed or disabled, as on several managed services
  }
}

function addressOf(node: Redis): string {
  return `${node.options.host ?? 'localhost'}:${node.options.port ?? 6379}`;
}
