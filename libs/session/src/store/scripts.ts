/**
 * The Lua scripts behind every session operation. Each touches one key, so each is atomic and runs
 * on Redis Cluster; each does a read and its follow-up write in one round trip.
 *
 * Their replies read the same on RESP2 (ioredis 5) and RESP3 (ioredis 6, either `replyMapping`):
 * they hold only integers, strings, arrays and nil, and no script calls `redis.setresp(3)`, after
 * which a Lua `false` would reach the client as a RESP3 boolean (0 or `false`) instead of nil.
 */

/**
 * Read a session. Also slides its idle timeout (capped by the absolute timeout) and updates its
 * last-seen time when that is older than the interval, so a read costs one round trip in all.
 * KEYS: session. ARGV: now ms, window ms (0: leave the TTL), absolute timeout ms (0: none), last-seen
 * interval ms. Returns nil, or { expire time ms, HGETALL reply }.
 */
export const LOAD_SESSION = `
local key = KEYS[1]
local fields = redis.call('HGETALL', key)
if #fields == 0 then return false end
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local absolute = tonumber(ARGV[3])
local created, seenAt, cookie
for i = 1, #fields, 2 do
  local f = fields[i]
  if f == ':c' then created = tonumber(fields[i + 1])
  elseif f == ':s' then seenAt = i + 1
  elseif f == ':k' then cookie = fields[i + 1] end
end
local deadline
if absolute > 0 and created then deadline = created + absolute end
if deadline and deadline <= now then
  redis.call('DEL', key)
  return false
end
if window > 0 then
  if cookie then
    local ok, parsed = pcall(cjson.decode, cookie)
    if ok and type(parsed) == 'table' and type(parsed.originalMaxAge) == 'number' then window = parsed.originalMaxAge end
  end
  local at = now + window
  if deadline and deadline < at then at = deadline end
  redis.call('PEXPIREAT', key, at)
end
if seenAt and now - (tonumber(fields[seenAt]) or 0) >= tonumber(ARGV[4]) then
  redis.call('HSET', key, ':s', ARGV[1])
  fields[seenAt] = ARGV[1]
end
return { redis.call('PEXPIRETIME', key), fields }
`;

/**
 * Write a session. 'patch' writes only if the session still exists, so a request that was running
 * while the session was destroyed (logout, revoke) cannot bring it back; 'replace' writes it whole.
 * An expiry already past deletes the session instead.
 * KEYS: session. ARGV: mode, expire-at ms, now ms, n, n field/value pairs, fields to delete.
 * Returns 1 written, 0 gone (patch), -1 expired.
 */
export const SAVE_SESSION = `
local key = KEYS[1]
if ARGV[1] == 'patch' then
  if redis.call('EXISTS', key) == 0 then return 0 end
else
  redis.call('DEL', key)
end
local at = tonumber(ARGV[2])
if at <= tonumber(ARGV[3]) then
  redis.call('DEL', key)
  return -1
end
local n = tonumber(ARGV[4])
-- In chunks: Lua's unpack fails past a few thousand values, and a session may have that many keys.
for i = 5, 4 + 2 * n, 1000 do redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, 4 + 2 * n))) end
for i = 5 + 2 * n, #ARGV, 1000 do redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('PEXPIREAT', key, at)
return 1
`;

/**
 * Move a session's expiry, never past its absolute deadline, without rewriting it.
 * KEYS: session. ARGV: wanted expire-at ms, now ms, absolute timeout ms (0: none).
 * Returns 1 touched, 0 gone, -1 expired (and deleted).
 */
export const TOUCH_SESSION = `
local created = redis.call('HGET', KEYS[1], ':c')
if not created then return 0 end
local at = tonumber(ARGV[1])
local absolute = tonumber(ARGV[3])
if absolute > 0 and tonumber(created) + absolute < at then at = tonumber(created) + absolute end
if at <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return -1
end
redis.call('PEXPIREAT', KEYS[1], at)
return 1
`;

/**
 * Compare-and-set of one session key: writes the new value only if the field still holds what the
 * caller last saw. Atomic in Redis, so it isolates concurrent requests even on a shared connection,
 * where WATCH would not.
 * KEYS: session. ARGV: field, expected-present '1'|'0', expected, write '1' (set) | '0' (delete),
 * new value, expire-at ms, now ms. Returns {0} gone, {1, current} changed meanwhile, {2} written.
 */
export const COMPARE_AND_SET = `
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return {0} end
local current = redis.call('HGET', key, ARGV[1])
local same
if ARGV[2] == '1' then same = current == ARGV[3] else same = current == false end
if not same then return {1, current} end
if ARGV[4] == '1' then redis.call('HSET', key, ARGV[1], ARGV[5]) else redis.call('HDEL', key, ARGV[1]) end
if tonumber(ARGV[6]) > tonumber(ARGV[7]) then redis.call('PEXPIREAT', key, ARGV[6]) end
return {2}
`;

/**
 * Add a session to its user's index, a sorted set of session digests scored by creation time, and
 * enforce the per-user limit in the same atomic step, so simultaneous logins never end above it.
 * KEYS: index. ARGV: digest, created ms, oldest live creation time ms ('-inf': no absolute timeout),
 * limit (0: none), 'evict-oldest'|'reject', index TTL ms (0: none).
 * Returns -1 when rejected, else the digests evicted to make room (oldest first).
 */
export const INDEX_ADD = `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
local limit = tonumber(ARGV[4])
if limit > 0 and ARGV[5] == 'reject' and not redis.call('ZSCORE', key, ARGV[1]) and redis.call('ZCARD', key) >= limit then
  return -1
end
redis.call('ZADD', key, ARGV[2], ARGV[1])
local evicted = {}
if limit > 0 then
  local over = redis.call('ZCARD', key) - limit
  if over > 0 then
    local popped = redis.call('ZPOPMIN', key, over)
    for i = 1, #popped, 2 do evicted[#evicted + 1] = popped[i] end
  end
end
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', key, ARGV[6]) end
return evicted
`;
