import { Cluster, type Redis } from 'ioredis';
import { SessionConfigError } from '../errors/session-config.error';
import { messages } from '../errors/session.messages';
import { PROBE_CHANNEL, PROBE_KEY, REDIS_COMMAND_NEEDS, minimalAclRules, type RedisCommandNeed, type RedisCommandUse } from './redis-permissions';

/**
 * One script asks the server, with `redis.acl_check_cmd` (Redis 7.0+), whether the connection's user
 * may run each command on a key and a channel under the prefix. It runs nothing else and writes
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
}

/** The commands a scope needs, with the probe arguments filled in. */
export function neededCommands(scope: PermissionScope, cluster: boolean): RedisCommandNeed[] {
  const uses = new Set<RedisCommandUse>(['always']);
  if (scope.durability) uses.add('durability');
  if (scope.metrics) uses.add('metrics');
  if (scope.nearCache) uses.add('nearCache');
  if (cluster) uses.add('cluster');
  const key = `${scope.prefix}permission-check`;
  const channel = `${scope.prefix}permission-check`;
  return REDIS_COMMAND_NEEDS.filter((need) => uses.has(need.use)).map((need) => ({
    ...need,
    probe: need.probe.map((arg) => (arg === PROBE_KEY ? key : arg === PROBE_CHANNEL ? channel : arg)),
  }));
}

/**
 * The commands the client's user may not run, each with why the library needs it; empty when all
 * are allowed or the server cannot tell (before Redis 7.0). On a cluster every master is asked, as
 * each keeps its own users. Rejects when Redis does not answer.
 */
export async function refusedCommands(client: Redis | Cluster, scope: PermissionScope): Promise<RedisCommandNeed[]> {
  const cluster = client instanceof Cluster;
  const needs = neededCommands(scope, cluster);
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
    throw new SessionConfigError('redis', messages.redisCommandsRefused(userOf(client), named, scope.prefix, minimalAclRules(scope.prefix)));
  } finally {
    clearTimeout(timer);
  }
}

/** The ACL user the client logs in as. */
function userOf(client: Redis | Cluster): string {
  const options = client instanceof Cluster ? client.options.redisOptions : client.options;
  return options?.username || 'default';
}
