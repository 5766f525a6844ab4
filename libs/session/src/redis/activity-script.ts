/**
 * Feeds the activity HyperLogLogs behind `sessions_active` and `session_users_active`: one bucket's
 * two keys, which share a hash tag so that this script and PFCOUNT over many buckets run on Redis
 * Cluster. Every key gets an expiry here, in the same step that creates it.
 * KEYS: sessions HLL, users HLL. ARGV: TTL ms, n, n session digests, user ids. Returns 1.
 */
export const ACTIVITY_ADD = `
local n = tonumber(ARGV[2])
for i = 3, 2 + n, 1000 do redis.call('PFADD', KEYS[1], unpack(ARGV, i, math.min(i + 999, 2 + n))) end
for i = 3 + n, #ARGV, 1000 do redis.call('PFADD', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1
`;
