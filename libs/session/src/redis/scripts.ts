import { FIELD, MAX_EXPIRY_MS } from './session-fields';

/**
 * The Lua scripts behind every session operation. Each touches one key, so each is atomic and runs
 * on Redis Cluster (but SAVE_AND_INDEX, for standalone and Sentinel only); each does a read and its
 * follow-up write in one round trip. Replies are named
 * strings ('written', 'gone', …) so the gateway and the scripts spell them once, the same way.
 * Only `SessionGateway` calls them.
 */

/**
 * A Lua helper the writing scripts start with: the expiry argument as an integer of ms within what
 * PEXPIREAT and a cookie accept, else an error reply BEFORE the script writes anything (Redis does not
 * roll back a script that fails half-way, and a key written without its PEXPIREAT would live for ever).
 * Lua's tonumber reads 'nan' and 'inf' too, hence the explicit checks.
 */
export const CHECKED_EXPIRY = `
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
  elseif f == '${FIELD.cookie}' then cookie = fields[i + 1]
  -- A renewed session's old key: the reader follows its successor; the key expires with its grace, untouched.
  elseif f == '${FIELD.successor}' then return { redis.call('PEXPIRETIME', key), fields } end
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
 * Returns 'written', 'gone' (patch on a missing session), 'expired' (deleted) or 'moved' (a renewed
 * session's old key: nothing written).
 */
export const SAVE_SESSION = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[2])
if not at then return invalid end
local n = tonumber(ARGV[4])
if n == nil or n < 0 or 4 + 2 * n > #ARGV then return redis.error_reply('SESSION invalid field count') end
-- A renewed session's old key takes no write: the writer goes to the successor (see session-forwarding.ts).
if redis.call('HEXISTS', key, '${FIELD.successor}') == 1 then return 'moved' end
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
 * new value, expire-at ms, now ms. Returns {'gone'}, {'moved'} (a renewed session's old key),
 * {'changed', current} (current absent when the field is) or {'written'}.
 */
export const COMPARE_AND_SET = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[6])
if not at then return invalid end
if redis.call('EXISTS', key) == 0 then return {'gone'} end
if redis.call('HEXISTS', key, '${FIELD.successor}') == 1 then return {'moved'} end
local current = redis.call('HGET', key, ARGV[1])
local same
if ARGV[2] == '1' then same = current == ARGV[3] else same = current == false end
if not same then return {'changed', current} end
if ARGV[4] == '1' then redis.call('HSET', key, ARGV[1], ARGV[5]) else redis.call('HDEL', key, ARGV[1]) end
if at > tonumber(ARGV[7]) then redis.call('PEXPIREAT', key, ms(at)) end
return {'written'}
`;

// ---- The user index -------------------------------------------------------------------------
// A user's index is a sorted set of session digests scored by creation time. The two scripts below
// share these Lua functions: INDEX_ADD works on the index alone (Redis Cluster, where the session and
// the index live in different slots), SAVE_AND_INDEX saves the session and moves its index entry in
// one atomic step (standalone and Sentinel).

/**
 * Lua functions over one index. `index_full` drops members past the absolute timeout and answers
 * whether `digest` would find no room (reject policy), counting `leaving` (a member about to go) as
 * free. `index_join` adds `digest` and evicts the oldest other members past the limit.
 */
const INDEX_FUNCTIONS = `
local function index_full(key, digest, oldest, limit, on_limit, leaving)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. oldest)
  if limit == 0 or on_limit ~= 'reject' or redis.call('ZSCORE', key, digest) then return false end
  local count = redis.call('ZCARD', key)
  if leaving ~= '' and redis.call('ZSCORE', key, leaving) then count = count - 1 end
  return count >= limit
end
local function index_join(key, digest, created, limit, ttl, reply)
  redis.call('ZADD', key, created, digest)
  if limit > 0 then
    local over = redis.call('ZCARD', key) - limit
    if over > 0 then
      -- the oldest others: a session re-joining under its old creation time never evicts itself
      for _, member in ipairs(redis.call('ZRANGE', key, 0, over)) do
        if over > 0 and member ~= digest then
          redis.call('ZREM', key, member)
          reply[#reply + 1] = member
          over = over - 1
        end
      end
    end
  end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  return reply
end
`;

/**
 * Add a session to its user's index, taking `leaving` (the same session's previous digest, after an
 * ID change) out first, and enforce the per-user limit in the same atomic step, so simultaneous
 * logins never end above it.
 * KEYS: index. ARGV: digest, created ms, oldest live creation time ms ('-inf': no absolute timeout),
 * limit (0: none), 'evict-oldest'|'reject', index TTL ms (0: none), leaving digest ('' for none).
 * Returns {'rejected'}, or {'added', digests evicted to make room…} (oldest first).
 */
export const INDEX_ADD = `${INDEX_FUNCTIONS}
local key = KEYS[1]
local limit = tonumber(ARGV[4])
if index_full(key, ARGV[1], ARGV[3], limit, ARGV[5], ARGV[7] or '') then return {'rejected'} end
if ARGV[7] and ARGV[7] ~= '' then redis.call('ZREM', key, ARGV[7]) end
return index_join(key, ARGV[1], ARGV[2], limit, tonumber(ARGV[6]), {'added'})
`;

/**
 * SAVE_SESSION, and the session's entry in its user's index moved in the same atomic step: out of
 * the index it leaves (an ID change, a logout, another user), into the index it joins, under the
 * per-user limit. A rejected join writes nothing. Standalone and Sentinel only: on a cluster the three
 * keys live in different slots.
 * KEYS: session, index to join, index to leave (a key not used is passed as the session's).
 * ARGV: joining digest ('' for none), created ms, oldest live creation time ms ('-inf'), limit
 * (0: none), 'evict-oldest'|'reject', index TTL ms (0: none), leaving digest ('' for none), then
 * SAVE_SESSION's own ARGV.
 * Returns {'rejected'}, or {SAVE_SESSION's status, digests evicted…}.
 */
export const SAVE_AND_INDEX = `${INDEX_FUNCTIONS}
local join, created, oldest, limit, on_limit, ttl, leaving = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6]), ARGV[7]
local join_key, leave_key = KEYS[2], KEYS[3]
if join ~= '' and index_full(join_key, join, oldest, limit, on_limit, join_key == leave_key and leaving or '') then return {'rejected'} end
-- SAVE_SESSION reads its arguments from ARGV[1]: shift them into place (KEYS and ARGV are this call's own tables).
local header = 7
for i = 1, #ARGV - header do ARGV[i] = ARGV[i + header] end
for i = #ARGV, #ARGV - header + 1, -1 do ARGV[i] = nil end
local function save_session()
${SAVE_SESSION}
end
local status = save_session()
-- An argument SAVE_SESSION refused (an error reply) ends here: the index is left as it was.
if type(status) == 'table' then return status end
-- A renewed session's old key: the writer saves again under the successor, index move included.
if status == 'moved' then return {status} end
if leaving ~= '' then redis.call('ZREM', leave_key, leaving) end
if join ~= '' and status == 'written' then return index_join(join_key, join, created, limit, ttl, {status}) end
return {status}
`;
