// The one list of what the library (and ioredis under it) asks of Redis. The boot check
// (check-redis-permissions.ts) asks the server about each entry, the README's least-privilege ACL line
// is built from it (a unit test holds the two together): add a command here and both follow.

/** Why a command is needed, so the boot check asks only for what the options in use need. */
export type RedisCommandUse =
  /** Every app: ioredis's connection setup and the sessions themselves. */
  | 'always'
  /** `durability`: WAIT after security writes. */
  | 'durability'
  /** `metrics`: the active-sessions HyperLogLogs. */
  | 'metrics'
  /** `SessionHealthIndicator` (not checked at boot: the module cannot know whether the app uses it). */
  | 'health'
  /** A Redis Cluster client: slot map and cluster state. */
  | 'cluster'
  /**
   * `nearCache`: its subscriber, heartbeat and PUBLISH fallback. CLIENT TRACKING itself is not
   * required: refused, the cache falls back to PUBLISH (said at boot), so it stays `planned`.
   */
  | 'nearCache'
  /** Reserved for features being merged (near cache, lifecycle events): granted by the README line, not yet checked. */
  | 'planned';

/** A command the library sends, and how to ask whether a user may run it. */
export interface RedisCommandNeed {
  /** As ACL names it: `hgetall`, or `cluster|info` for a subcommand. */
  readonly command: string;
  /**
   * Arguments after the command name for `redis.acl_check_cmd`, which checks keys and channels too:
   * `KEY` stands for a key under the prefix, `CHANNEL` for a channel under it.
   */
  readonly probe: readonly string[];
  readonly use: RedisCommandUse;
  /** Shown when the command is refused. */
  readonly why: string;
}

export const PROBE_KEY = 'KEY';
export const PROBE_CHANNEL = 'CHANNEL';

const K = PROBE_KEY;
const C = PROBE_CHANNEL;

/** Every command the library needs, each once; scripts count for the commands they call (Redis checks those too). */
export const REDIS_COMMAND_NEEDS: readonly RedisCommandNeed[] = [
  // ioredis: HELLO and AUTH are open to every user; CLIENT SETINFO (Redis 7.2+) may be refused, ioredis ignores it.
  { command: 'info', probe: [], use: 'always', why: "ioredis's ready check (it also tells a Sentinel-announced master from a replica)" },
  { command: 'ping', probe: [], use: 'always', why: 'the health check and the cluster scan wait' },
  // The scripts: ioredis sends EVAL on a connection's first call, EVALSHA after.
  { command: 'eval', probe: ['return 1', '0'], use: 'always', why: 'runs the session scripts (first call on a connection)' },
  { command: 'evalsha', probe: ['0000000000000000000000000000000000000000', '0'], use: 'always', why: 'runs the session scripts' },
  // Commands the scripts call, and the plain commands of the gateway.
  { command: 'hgetall', probe: [K], use: 'always', why: 'reads a session' },
  { command: 'hget', probe: [K, 'f'], use: 'always', why: 'reads one field of a session (update, touch)' },
  { command: 'hmget', probe: [K, 'f'], use: 'always', why: 'reads the device fields that list() shows' },
  { command: 'hset', probe: [K, 'f', 'v'], use: 'always', why: 'writes session fields' },
  { command: 'hexists', probe: [K, 'f'], use: 'always', why: 'tells a renewed or ended session key from a live one (renewal)' },
  { command: 'hlen', probe: [K], use: 'always', why: 'tells a retired renewal pointer from a claimed session (renewal)' },
  { command: 'hdel', probe: [K, 'f'], use: 'always', why: 'removes session fields' },
  { command: 'exists', probe: [K], use: 'always', why: 'checks a session still exists before a write' },
  { command: 'del', probe: [K], use: 'always', why: 'destroys a session (logout, revoke)' },
  { command: 'pexpire', probe: [K, '1'], use: 'always', why: "sets a user index's expiry" },
  { command: 'pexpireat', probe: [K, '1'], use: 'always', why: "sets a session's expiry" },
  { command: 'pexpiretime', probe: [K], use: 'always', why: "reads a session's expiry" },
  { command: 'zadd', probe: [K, '1', 'm'], use: 'always', why: "adds a session to its user's index" },
  { command: 'zrem', probe: [K, 'm'], use: 'always', why: "removes a session from its user's index" },
  { command: 'zrange', probe: [K, '0', '-1'], use: 'always', why: "lists a user's sessions" },
  { command: 'zremrangebyscore', probe: [K, '-inf', '0'], use: 'always', why: "drops dead sessions from a user's index" },
  { command: 'zscore', probe: [K, 'm'], use: 'always', why: "finds a session in its user's index" },
  { command: 'zcard', probe: [K], use: 'always', why: "counts a user's sessions (maxSessionsPerUser)" },
  { command: 'scan', probe: ['0'], use: 'always', why: 'lists session keys (store.all/ids/clear)' },
  { command: 'wait', probe: ['0', '0'], use: 'durability', why: 'waits for replicas after security writes (option "durability")' },
  { command: 'pfadd', probe: [K, 'm'], use: 'metrics', why: 'counts active sessions (option "metrics")' },
  { command: 'pfcount', probe: [K], use: 'metrics', why: 'reads active sessions (option "metrics")' },
  { command: 'role', probe: [], use: 'health', why: 'SessionHealthIndicator: a master, not a read-only replica' },
  { command: 'cluster|info', probe: [], use: 'cluster', why: "ioredis's cluster ready check and SessionHealthIndicator" },
  { command: 'cluster|slots', probe: [], use: 'cluster', why: "ioredis's slot map" },
  // Near cache (invalidation by CLIENT TRACKING, heartbeat) and lifecycle events (PUBLISH, keyevent notifications).
  { command: 'client|id', probe: [], use: 'planned', why: 'near cache: the invalidation connection (refused: the PUBLISH fallback)' },
  {
    command: 'client|tracking',
    probe: ['on', 'bcast', 'prefix', K],
    use: 'planned',
    why: 'near cache: invalidation of cached sessions by every writer (refused: the PUBLISH fallback)',
  },
  { command: 'subscribe', probe: [C], use: 'nearCache', why: 'near cache (option "nearCache") and lifecycle events' },
  { command: 'unsubscribe', probe: [C], use: 'planned', why: 'near cache and lifecycle events' },
  { command: 'psubscribe', probe: ['__keyevent@*__:expired'], use: 'planned', why: 'lifecycle events: session expiry' },
  { command: 'punsubscribe', probe: ['__keyevent@*__:expired'], use: 'planned', why: 'lifecycle events: session expiry' },
  { command: 'publish', probe: [C, 'm'], use: 'nearCache', why: 'near cache fallback (option "nearCache") and lifecycle events' },
  { command: 'set', probe: [K, 'v', 'PX', '1'], use: 'nearCache', why: 'near cache: heartbeat key (option "nearCache")' },
];

/** Channels outside the prefix that the library listens on: CLIENT TRACKING's and expiry notifications. */
export const REDIS_CHANNEL_NEEDS: readonly string[] = ['__redis__:*', '__keyevent@*__:expired'];

/** `prefix` as an ACL glob matching itself literally. */
function globOf(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The least-privilege ACL rules for a user of the library under `prefix`: its keys, its channels
 * and the commands above, nothing else. For `ACL SETUSER <name> on ><password> <rules>`.
 */
export function minimalAclRules(prefix: string): string {
  const channels = [...REDIS_CHANNEL_NEEDS, `${globOf(prefix)}*`].map((channel) => `&${channel}`);
  const commands = REDIS_COMMAND_NEEDS.map(({ command }) => `+${command}`);
  return ['resetkeys', `~${globOf(prefix)}*`, 'resetchannels', ...channels, '-@all', ...commands].join(' ');
}
