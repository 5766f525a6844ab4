// The one list of what the library (and ioredis under it) asks of Redis. The boot check
// (check-redis-permissions.ts) asks the server about each entry the options in use need, the README's
// least-privilege ACL line is built from it (a unit test holds the two together): add a command here
// and both follow.

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
  /** `nearCache`: its heartbeat, and the PUBLISH channel it falls back to where CLIENT TRACKING is refused. */
  | 'nearCache'
  /**
   * `nearCache`'s CLIENT TRACKING, granted by the README line but not checked at boot: refused, the
   * near cache falls back to PUBLISH and says so in a boot warning, so the app still runs.
   */
  | 'nearCacheTracking'
  /** `events.crossReplica`: lifecycle events published to and heard from every replica. */
  | 'crossReplicaEvents'
  /** `events.expired`: Redis's `expired` keyspace notifications. */
  | 'expiredEvents'
  /**
   * `events.expired: 'configure'`: turning the notifications on. An admin right, so left out of the
   * README line: only an app that asks for it needs it (and is told the line with it).
   */
  | 'configureExpiredEvents';

/** Names a probe stands for, filled in by the boot check with those of the prefix in use (see redis-keys.ts). */
export const PROBE = {
  /** A session key under the prefix. */
  key: '<session key>',
  /** `events.crossReplica`'s channel. */
  eventsChannel: '<events channel>',
  /** The near cache's PUBLISH fallback channel. */
  nearCacheChannel: '<near cache channel>',
  /** A near cache heartbeat key. */
  heartbeatKey: '<heartbeat key>',
  /** The `expired` notifications channel of the client's database. */
  expiredChannel: '<expired channel>',
} as const;

/** A command the library sends for one use, and how to ask whether a user may run it. */
export interface RedisCommandNeed {
  /** As ACL names it: `hgetall`, or `cluster|info` for a subcommand. */
  readonly command: string;
  /** Arguments after the command name for `redis.acl_check_cmd`, which checks keys and channels too (`PROBE` names them). */
  readonly probe: readonly string[];
  readonly use: RedisCommandUse;
  /** Shown when the command is refused: what it is for, and the option that needs it. */
  readonly why: string;
}

const K = PROBE.key;

/**
 * Every command the library needs, once per use (SUBSCRIBE serves three features, each on its own
 * channel); scripts count for the commands they call (Redis checks those too).
 */
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
  { command: 'hlen', probe: [K], use: 'always', why: 'tells a retired renewal pointer from a claimed session (renewal); bounds a corrupt piece count' },
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
  { command: 'zcard', probe: [K], use: 'always', why: "counts a user's sessions (users.maxSessions)" },
  { command: 'scan', probe: ['0'], use: 'always', why: 'lists session keys (store.all/ids/clear)' },
  { command: 'wait', probe: ['0', '0'], use: 'durability', why: 'waits for replicas after security writes (option "durability")' },
  { command: 'pfadd', probe: [K, 'm'], use: 'metrics', why: 'counts active sessions (option "metrics")' },
  { command: 'pfcount', probe: [K], use: 'metrics', why: 'reads active sessions (option "metrics")' },
  { command: 'role', probe: [], use: 'health', why: 'SessionHealthIndicator: a master, not a read-only replica' },
  { command: 'cluster|info', probe: [], use: 'cluster', why: "ioredis's cluster ready check and SessionHealthIndicator" },
  { command: 'cluster|slots', probe: [], use: 'cluster', why: "ioredis's slot map" },
  { command: 'client|id', probe: [], use: 'nearCacheTracking', why: 'near cache: the invalidation connection (refused: the PUBLISH fallback)' },
  {
    command: 'client|tracking',
    probe: ['on', 'bcast', 'prefix', K],
    use: 'nearCacheTracking',
    why: 'near cache: invalidation of cached sessions by every writer (refused: the PUBLISH fallback)',
  },
  { command: 'subscribe', probe: [PROBE.nearCacheChannel], use: 'nearCache', why: 'near cache: hears invalidations (option "nearCache")' },
  {
    command: 'subscribe',
    probe: [PROBE.eventsChannel],
    use: 'crossReplicaEvents',
    why: 'hears other replicas\' session events (option "events.crossReplica")',
  },
  { command: 'subscribe', probe: [PROBE.expiredChannel], use: 'expiredEvents', why: 'hears sessions expire (option "events.expired")' },
  {
    command: 'publish',
    probe: [PROBE.nearCacheChannel, 'm'],
    use: 'nearCache',
    why: 'near cache: tells other replicas of a write where tracking is refused (option "nearCache")',
  },
  {
    command: 'publish',
    probe: [PROBE.eventsChannel, 'm'],
    use: 'crossReplicaEvents',
    why: 'tells other replicas of session events (option "events.crossReplica")',
  },
  { command: 'set', probe: [PROBE.heartbeatKey, 'v', 'PX', '1'], use: 'nearCache', why: 'near cache: heartbeat key (option "nearCache")' },
  {
    command: 'config|get',
    probe: ['notify-keyspace-events'],
    use: 'configureExpiredEvents',
    why: 'reads notify-keyspace-events before setting it (option "events.expired": \'configure\')',
  },
  {
    command: 'config|set',
    probe: ['notify-keyspace-events', 'Ex'],
    use: 'configureExpiredEvents',
    why: 'turns expired notifications on (option "events.expired": \'configure\')',
  },
];

/** Channels outside the prefix that the library listens on: CLIENT TRACKING's and expiry notifications. */
export const REDIS_CHANNEL_NEEDS: readonly string[] = ['__redis__:*', '__keyevent@*__:expired'];

/** Uses whose commands the README line leaves out: an admin right that only an app asking for it should have. */
const OPT_IN_USES: ReadonlySet<RedisCommandUse> = new Set(['configureExpiredEvents']);

/** `prefix` as an ACL glob matching itself literally. */
function globOf(prefix: string): string {
  return prefix.replace(/[*?[\]\\]/g, '\\$&');
}

/**
 * The least-privilege ACL rules for a user of the library under `prefix`: its keys, its channels
 * and the commands above, nothing else, each command once. For `ACL SETUSER <name> on ><password> <rules>`.
 * The opt-in admin commands (`events.expired: 'configure'`) only when `withOptIn` names them.
 */
export function minimalAclRules(prefix: string, withOptIn: readonly RedisCommandUse[] = []): string {
  const channels = [...REDIS_CHANNEL_NEEDS, `${globOf(prefix)}*`].map((channel) => `&${channel}`);
  const needs = REDIS_COMMAND_NEEDS.filter(({ use }) => !OPT_IN_USES.has(use) || withOptIn.includes(use));
  const commands = [...new Set(needs.map(({ command }) => command))].map((command) => `+${command}`);
  return ['resetkeys', `~${globOf(prefix)}*`, 'resetchannels', ...channels, '-@all', ...commands].join(' ');
}
