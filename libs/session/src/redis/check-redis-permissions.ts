import { Cluster, type Redis } from 'ioredis';
import { SessionConfigError } from '../errors/session-config.error';
import { messages } from '../errors/session.messages';
import { eventsChannel, expiredEventsChannel, nearCacheChannel, nearCacheHeartbeatRedisKey, sessionRedisKey } from './redis-keys';
import { PROBE, REDIS_COMMAND_NEEDS, minimalAclRules, type RedisCommandNeed, type RedisCommandUse } from './redis-permissions';

/**
 * One script asks the server, with `redis.acl_check_cmd` (Redis 7.0+), whether the connection's user
 * may run each command on the keys and channels the library will use it on. It runs nothing else and writes
 * nothing, so it needs no right beyond EVAL, which the library needs anyway. A command the server
 * does not know is skipped: it cannot be needed from that server. Answers the 1-based positions of
 * the refused ones.
 */
const CHECK_SCRIPT = `
if not redis.acl_check_cmd then return 'unsupported' end
local refused = {}
for i, argv in ipairs(cjson.decode(ARGV[1])) do
  local known, allowed = pcall(redis.acl_check_cmd, unpack(argv))
  if known and not allowed then table.insert(refused, i) end
end
return refused
`;

/** What the options in use need from Redis. */
export interface PermissionScope {
  prefix: string;
  durability: boolean;
  metrics: boolean;
  /** The `nearCache` option. @default false */
  nearCache?: boolean;
  /** The `events.crossReplica` option. */
  crossReplicaEvents: boolean;
  /** The `events.expired` option: off, listen only (`true`), or also turn the notifications on (`'configure'`). */
  expiredEvents: 'off' | 'listen' | 'configure';
}

/** The uses a scope needs checked at boot (see `RedisCommandUse`). */
function usesOf(scope: PermissionScope, cluster: boolean): Set<RedisCommandUse> {
  const uses = new Set<RedisCommandUse>(['always']);
  if (scope.durability) uses.add('durability');
  if (scope.metrics) uses.add('metrics');
  if (scope.nearCache) uses.add('nearCache');
  if (scope.crossReplicaEvents) uses.add('crossReplicaEvents');
  if (scope.expiredEvents === 'listen' || scope.expiredEvents === 'configure') uses.add('expiredEvents');
  if (scope.expiredEvents === 'configure') uses.add('configureExpiredEvents');
  if (cluster) uses.add('cluster');
  return uses;
}

/** The commands a scope needs, with the probe arguments filled in; `db` is the client's database (0 on a cluster). */
export function neededCommands(scope: PermissionScope, cluster: boolean, db = 0): RedisCommandNeed[] {
  const uses = usesOf(scope, cluster);
  const names: Record<string, string> = {
    [PROBE.key]: sessionRedisKey(scope.prefix, 'permission-check'),
    [PROBE.eventsChannel]: eventsChannel(scope.prefix),
    [PROBE.nearCacheChannel]: nearCacheChannel(scope.prefix),
    [PROBE.heartbeatKey]: nearCacheHeartbeatRedisKey(scope.prefix, 'permission-check'),
    [PROBE.expiredChannel]: expiredEventsChannel(db),
  };
  return REDIS_COMMAND_NEEDS.filter((need) => uses.has(need.use)).map((need) => ({ ...need, probe: need.probe.map((arg) => names[arg] ?? arg) }));
}

/**
 * The commands the client's user may not run, each with why the library needs it; empty when all
 * are allowed or the server cannot tell (before Redis 7.0). On a cluster every master is asked, as
 * each keeps its own users. Rejects when Redis does not answer.
 */
export async function refusedCommands(client: Redis | Cluster, scope: PermissionScope): Promise<RedisCommandNeed[]> {
  const cluster = client instanceof Cluster;
  const needs = neededCommands(scope, cluster, cluster ? 0 : ((client.options as { db?: number }).db ?? 0));
  const argvs = JSON.stringify(needs.map((need) => [...need.command.split('|'), ...need.probe]));
  const nodes: (Redis | Cluster)[] = cluster ? client.nodes('master') : [client];
  const refused = new Set<RedisCommandNeed>();
  await Promise.all(
    nodes.map(async (node) => {
      try {
        const reply = await node.eval(CHECK_SCRIPT, 0, argvs);
        if (Array.isArray(reply)) for (const position of reply) refused.add(needs[Number(position) - 1]);
      } catch (error) {
        // Without EVAL the script cannot even run: that is the refused command.
        if (/^NOPERM/.test((error as Error)?.message ?? '')) refused.add(needs.find((need) => need.command === 'eval')!);
        else throw error;
      }
    }),
  );
  return needs.filter((need) => refused.has(need));
}

/**
 * Throws `SessionConfigError` naming every refused command, why the library needs it, and the ACL
 * rules that would do; rejects with Redis's own error when Redis fails or stays silent for `timeoutMs`.
 */
export async function assertRedisPermissions(client: Redis | Cluster, scope: PermissionScope, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const silent = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(messages.storeTimeout(timeoutMs))), timeoutMs);
  });
  try {
    const refused = await Promise.race([refusedCommands(client, scope), silent]);
    if (refused.length === 0) return;
    const named = refused.map((need) => `${need.command.replace('|', ' ').toUpperCase()} (${need.why})`);
    const rules = minimalAclRules(scope.prefix, [...usesOf(scope, false)]);
    throw new SessionConfigError('redis', messages.redisCommandsRefused(userOf(client), named, scope.prefix, rules));
  } finally {
    clearTimeout(timer);
  }
}

/** The ACL user the client logs in as. */
function userOf(client: Redis | Cluster): string {
  const options = client instanceof Cluster ? client.options.redisOptions : client.options;
  return options?.username || 'default';
}
