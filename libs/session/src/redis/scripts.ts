import { FIELD, MAX_EXPIRY_MS } from './session-fields';

/**
 * The Lua scripts behind every session write. Each touches one key, so each is atomic and runs
 * on Redis Cluster (but SAVE_AND_INDEX, for standalone and Sentinel only); each does a read and its
 * follow-up write in one round trip. A session is read with a plain HGETALL, no script: a read that
 * has nothing to write then costs Redis one command. So every script that sets a session's
 * PEXPIREAT also sets its expiry field (`FIELD.expiresAt`) to the same time, which is what the read
 * decides on. Replies are named
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
  -- A tombstone (a session destroyed while renewal is on) is as absent.
  if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, '${FIELD.ended}') == 1 then return 'gone' end
else
  redis.call('DEL', key)
end
if at <= tonumber(ARGV[3]) then
  redis.call('DEL', key)
  return 'expired'
end
-- In chunks: Lua's unpack fails past a few thousand values, and a session may have that many keys.
-- The expiry field rides in the first HSET (the caller never sends it, so nothing overrides it).
if n == 0 then redis.call('HSET', key, '${FIELD.expiresAt}', ms(at)) end
for i = 5, 4 + 2 * n, 1000 do
  local last = math.min(i + 999, 4 + 2 * n)
  if i == 5 then redis.call('HSET', key, '${FIELD.expiresAt}', ms(at), unpack(ARGV, i, last))
  else redis.call('HSET', key, unpack(ARGV, i, last)) end
end
for i = 5 + 2 * n, #ARGV, 1000 do redis.call('HDEL', key, unpack(ARGV, i, math.min(i + 999, #ARGV))) end
redis.call('PEXPIREAT', key, ms(at))
return 'written'
`;

/**
 * Slide a session's idle timeout: move its expiry, never past its absolute deadline, without
 * rewriting it, and stamp its last-seen time. Never recreates a deleted session. With an expected
 * expiry, it does nothing when another write moved the expiry since the caller read it: that write
 * slid the session already, so parallel requests of one session slide it once.
 * KEYS: session. ARGV: wanted expire-at ms, now ms, absolute timeout ms (0: none), expected expiry
 * field ('*': any, '': absent), last-seen ms ('': leave it).
 * Returns 'touched', 'moved' (left alone; also a renewed session's old key), 'gone' or 'expired' (and deleted).
 */
export const TOUCH_SESSION = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[1])
if not at then return invalid end
local found = redis.call('HMGET', key, '${FIELD.createdAt}', '${FIELD.expiresAt}', '${FIELD.successor}')
local created = tonumber(found[1])
if not created then return 'gone' end
-- A renewed session's old key: its fields are final and it expires with its grace, untouched.
if found[3] then return 'moved' end
if ARGV[4] ~= '*' and (tonumber(found[2]) or -1) ~= (tonumber(ARGV[4]) or -1) then return 'moved' end
local absolute = tonumber(ARGV[3])
if absolute > 0 and created + absolute < at then at = created + absolute end
if at <= tonumber(ARGV[2]) then
  redis.call('DEL', key)
  return 'expired'
end
redis.call('PEXPIREAT', key, ms(at))
if ARGV[5] ~= '' then redis.call('HSET', key, '${FIELD.expiresAt}', ms(at), '${FIELD.lastSeenAt}', ARGV[5])
else redis.call('HSET', key, '${FIELD.expiresAt}', ms(at)) end
return 'touched'
`;

/**
 * Compare-and-set of one session key: writes the new value only if the field still holds what the
 * caller last saw. Atomic in Redis, so it isolates concurrent requests even on a shared connection,
 * where WATCH would not.
 * KEYS: session. ARGV: field, expected-present '1'|'0', expected, write '1' (set) | '0' (delete),
 * new value, expire-at ms, now ms, last-seen ms ('': leave it). Returns {'gone'}, {'moved'} (a renewed
 * session's old key), {'changed', current} (current absent when the field is) or {'written'}.
 */
export const COMPARE_AND_SET = `${CHECKED_EXPIRY}
local key = KEYS[1]
local at, invalid = checked_expiry(ARGV[6])
if not at then return invalid end
if redis.call('EXISTS', key) == 0 or redis.call('HEXISTS', key, '${FIELD.ended}') == 1 then return {'gone'} end
if redis.call('HEXISTS', key, '${FIELD.successor}') == 1 then return {'moved'} end
local current = redis.call('HGET', key, ARGV[1])
local same
if ARGV[2] == '1' then same = current == ARGV[3] else same = current == false end
if not same then return {'changed', current} end
-- A write that slides the expiry stamps the expiry field (and last-seen) in the same HSET.
local stamps = {}
if at > tonumber(ARGV[7]) then
  stamps = { '${FIELD.expiresAt}', ms(at) }
  if ARGV[8] and ARGV[8] ~= '' then stamps[3] = '${FIELD.lastSeenAt}'; stamps[4] = ARGV[8] end
end
if ARGV[4] == '1' then redis.call('HSET', key, ARGV[1], ARGV[5], unpack(stamps))
else
  redis.call('HDEL', key, ARGV[1])
  if #stamps > 0 then redis.call('HSET', key, unpack(stamps)) end
end
if #stamps > 0 then redis.call('PEXPIREAT', key, ms(at)) end
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
 * free. `index_join` adds `digest`, evicts the oldest other members past the limit and moves the
 * index's expiry to `expire_at` unless it is later already.
 */
const INDEX_FUNCTIONS = `
local function extend_expiry(key, expire_at)
  -- Only ever later: the index must outlive every member, whichever of them set it last. An index
  -- without a TTL (-1, written by an older version) gets one.
  if redis.call('PEXPIRETIME', key) < tonumber(expire_at) then redis.call('PEXPIREAT', key, expire_at) end
end
local function index_full(key, digest, oldest, limit, on_limit, leaving)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. oldest)
  if limit == 0 or on_limit ~= 'reject' or redis.call('ZSCORE', key, digest) then return false end
  local count = redis.call('ZCARD', key)
  if leaving ~= '' and redis.call('ZSCORE', key, leaving) then count = count - 1 end
  return count >= limit
end
local function index_join(key, digest, created, limit, expire_at, reply)
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
  extend_expiry(key, expire_at)
  return reply
end
`;

/**
 * Add a session to its user's index, taking `leaving` (the same session's previous digest, after an
 * ID change) out first, and enforce the per-user limit in the same atomic step, so simultaneous
 * logins never end above it.
 * KEYS: index. ARGV: digest, created ms, oldest live creation time ms ('-inf': no absolute timeout),
 * limit (0: none), 'evict-oldest'|'reject', index expire-at ms (never moved earlier), leaving digest
 * ('' for none). Returns {'rejected'}, or {'added', digests evicted to make room…} (oldest first).
 */
export const INDEX_ADD = `${INDEX_FUNCTIONS}
local key = KEYS[1]
local limit = tonumber(ARGV[4])
if index_full(key, ARGV[1], ARGV[3], limit, ARGV[5], ARGV[7] or '') then return {'rejected'} end
if ARGV[7] and ARGV[7] ~= '' then redis.call('ZREM', key, ARGV[7]) end
return index_join(key, ARGV[1], ARGV[2], limit, ARGV[6], {'added'})
`;

/**
 * SAVE_SESSION, and the session's entry in its user's index moved in the same atomic step: out of
 * the index it leaves (an ID change, a logout, another user), into the index it joins, under the
 * per-user limit. A rejected join writes nothing. Standalone and Sentinel only: on a cluster the three
 * keys live in different slots.
 * KEYS: session, index to join, index to leave (a key not used is passed as the session's).
 * ARGV: joining digest ('' for none), created ms, oldest live creation time ms ('-inf'), limit
 * (0: none), 'evict-oldest'|'reject', index expire-at ms, leaving digest ('' for none), then
 * SAVE_SESSION's own ARGV.
 * Returns {'rejected'}, or {SAVE_SESSION's status, digests evicted…}.
 */
export const SAVE_AND_INDEX = `${INDEX_FUNCTIONS}
local join, created, oldest, limit, on_limit, expire_at, leaving = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
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
if join ~= '' and status == 'written' then return index_join(join_key, join, created, limit, expire_at, {status}) end
return {status}
`;

/**
 * Move a user index's expiry to a later time, never earlier; a missing index stays missing.
 * KEYS: index. ARGV: expire-at ms. Returns 1 when moved, else 0.
 */
export const EXTEND_INDEX = `
local current = redis.call('PEXPIRETIME', KEYS[1])
if current == -2 or current >= tonumber(ARGV[1]) then return 0 end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`;
