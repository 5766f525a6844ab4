-- Feeds the activity HyperLogLogs behind `sessions_active` and `session_users_active`: one bucket's
-- two keys, which share a hash tag so that this script and PFCOUNT over many buckets run on Redis
-- Cluster. Every key gets an expiry here, in the same step that creates it.
-- KEYS: sessions HLL, users HLL. ARGV: TTL ms, n, n session digests, user ids. Returns 1.
--- @include "includes/call-in-chunks"

local n = tonumber(ARGV[2])
call_in_chunks('PFADD', KEYS[1], 3, 2 + n)
call_in_chunks('PFADD', KEYS[2], 3 + n, #ARGV)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return 1
