import { FIELD, MAX_EXPIRY_MS } from './session-fields';

/**
 * The Lua scripts behind every session operation. Each touches one key, so each is atomic and runs
 * on Redis Cluster; each does a read and its follow-up write in one round trip. Replies are named
 * strings ('written', 'gone', …) so the gateway and the scripts spell them once, the same way.
 * Only `SessionGateway` calls them.
 */

/**
 * A Lua helper the writing scripts start with: the expiry argument as an integer of ms within what
 * PEXPIREAT and a cookie accept, else an error reply BEFORE the script writes anything (Redis does not
 * roll back a script that fails half-way, and a key written without its PEXPIREAT would live for ever).
 * Lua's tonumber reads 'nan' and 'inf' too, hence the explicit checks.
 */
const CHECKED_EXPIRY = `
local function checked_expiry(text)
  local at = tonumber(text)
  if at == nil or at ~= at or at < 0 or at > ${MAX_EXPIRY_MS} or at ~= math.floor(at) then
    return nil, redis.error_reply('SESSION invalid expiry: ' .. tostring(text))
  end
  return at
end
-- Lua prints numbers with 14 digits: a far expiry (15 digits) must be formatted in full.
local function ms(at) return string.format('%.0f', at) end
`;

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
  if f == '${FIELD.createdAt}' then created = tonumber(fields[i + 1])
  elseif f == '${FIELD.lastSeenAt}' then seenAt = i + 1
  elseif f == '${FIELD.cookie}' then cookie = fields[i + 1] end
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
  redis.call('HSET', key, '${FIELD.lastSeenAt}', ARGV[1])
  fields[seenAt] = ARGV[1]
end
return { redis.call('PEXPIRETIME', key), fields }
`;

/**
 * Write a session. 'patch' writes only if the session still exists, so a request that was running
 * while the session was destroyed (logout, revoke) cannot bring it back; 'replace' writes it whole.
 * An expiry already past deletes the session instead.
 * KEYS: session. ARGV: mode, expire-at ms, now ms, n, n field/value pairs, fields to delete.
 * Returns 'written', 'gone' (patch on a missing session) or 'expired' (deleted).
 */
export const SAVE_SESSION = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[2])
if not at then return invalid end
local n = tonumber(ARGV[4])
if n == nil or n < 0 or 4 + 2 * n > #ARGV then return redis.error_reply('SESSION invalid field count') end
if ARGV[1] == 'patch' then
  if redis.call('EXISTS', key) == 0 then return 'gone' end
else
  redis.call('DEL', key)
end
if at <= tonumber(ARGV[3]) then
  redis.call('DEL', key)
  return 'expired'
end
-- In chunks: Lua's unpack fails past a few thousand values, and a session may have that many keys.
for i = 5, 4 + 2 * n, 1000 do redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, 4 + 2 * n))) end
for i = 5 + 2 * n, #ARGV, 1000 do redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('PEXPIREAT', key, ms(at))
return 'written'
`;

/**
 * Move a session's expiry, never past its absolute deadline, without rewriting it.
 * KEYS: session. ARGV: wanted expire-at ms, now ms, absolute timeout ms (0: none).
 * Returns 'touched', 'gone' or 'expired' (and deleted).
 */
export const TOUCH_SESSION = `${CHECKED_EXPIRY}
local at, invalid = checked_expiry(ARGV[1])
if not at then return invalid end
local created = redis.call('HGET', KEYS[1], '${FIELD.createdAt}')
if not created then return 'gone' end
local absolute = tonumber(ARGV[3])
if absolute > 0 and tonumber(created) + absolute < at then at = tonumber(created) + absolute end
if at <= tonumber(ARGV[2]) then
  redis.call('DEL', KEYS[1])
  return 'expired'
end
redis.call('PEXPIREAT', KEYS[1], ms(at))
return 'touched'
`;

/**
 * Compare-and-set of one session key: writes the new value only if the field still holds what the
 * caller last saw. Atomic in Redis, so it isolates concurrent requests even on a shared connection,
 * where WATCH would not.
 * KEYS: session. ARGV: field, expected-present '1'|'0', expected, write '1' (set) | '0' (delete),
 * new value, expire-at ms, now ms. Returns {'gone'}, {'changed', current} (current absent when the
 * field is) or {'written'}.
 */
export const COMPARE_AND_SET = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[6])
if not at then return invalid end
if redis.call('EXISTS', key) == 0 then return {'gone'} end
local current = redis.call('HGET', key, ARGV[1])
local same
if ARGV[2] == '1' then same = current == ARGV[3] else same = current == false end
if not same then return {'changed', current} end
if ARGV[4] == '1' then redis.call('HSET', key, ARGV[1], ARGV[5]) else redis.call('HDEL', key, ARGV[1]) end
if at > tonumber(ARGV[7]) then redis.call('PEXPIREAT', key, ms(at)) end
return {'written'}
`;

/**
 * Add a session to its user's index, a sorted set of session digests scored by creation time, and
 * enforce the per-user limit in the same atomic step, so simultaneous logins never end above it.
 * KEYS: index. ARGV: digest, created ms, oldest live creation time ms ('-inf': no absolute timeout),
 * limit (0: none), 'evict-oldest'|'reject', index TTL ms (0: none).
 * Returns {'rejected'}, or {'added', digests evicted to make room…} (oldest first).
 */
export const INDEX_ADD = `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. ARGV[3])
local limit = tonumber(ARGV[4])
if limit > 0 and ARGV[5] == 'reject' and not redis.call('ZSCORE', key, ARGV[1]) and redis.call('ZCARD', key) >= limit then
  return {'rejected'}
end
redis.call('ZADD', key, ARGV[2], ARGV[1])
local reply = {'added'}
if limit > 0 then
  local over = redis.call('ZCARD', key) - limit
  if over > 0 then
    local popped = redis.call('ZPOPMIN', key, over)
    for i = 1, #popped, 2 do reply[#reply + 1] = popped[i] end
  end
end
if tonumber(ARGV[6]) > 0 then redis.call('PEXPIRE', key, ARGV[6]) end
return reply
`;
