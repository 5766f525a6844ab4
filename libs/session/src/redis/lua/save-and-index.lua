-- save-session.lua, and the session's entry in its user's index moved in the same atomic step: out
-- of the index it leaves (an ID change, a logout, another user), into the index it joins, under the
-- per-user limit. A rejected join writes nothing. Standalone and Sentinel only: on a cluster the
-- three keys live in different slots.
-- KEYS: session, index to join, index to leave (a key not used is passed as the session's).
-- ARGV: the INDEX_ARGS below ('' for no joining or leaving digest, '-inf' for no oldest live
-- creation time, limit 0 for none, 'required' '1' when the leaving entry must still be there), then
-- save-session.lua's own ARGV.
-- Returns {'rejected'}, {'gone'} (a required entry gone: nothing written), or {the save's status,
-- digests evicted…}.
--- @include "includes/index-functions"
--- @include "includes/save-session"

local INDEX_ARGS = {'join', 'created', 'oldest', 'limit', 'on_limit', 'expire_at', 'leaving', 'required'}
local index = {}
for i, name in ipairs(INDEX_ARGS) do index[name] = ARGV[i] end
local limit = tonumber(index.limit)
local join_key, leave_key = KEYS[2], KEYS[3]

-- The first save of a logged-in session a regenerate moved to a new ID: a logout, revoke or "log out
-- everywhere" since then took the entry it leaves out of the index, and the session stays ended.
if index.required == '1' and not redis.call('ZSCORE', leave_key, index.leaving) then return {'gone'} end

if index.join ~= '' and index_full(join_key, index.join, index.oldest, limit, index.on_limit, join_key == leave_key and index.leaving or '') then
  return {'rejected'}
end
-- The save's arguments follow this script's own.
local status = save_session(KEYS[1], #INDEX_ARGS)
-- An argument the save refused (an error reply) ends here: the index is left as it was.
if type(status) == 'table' then return status end
-- A renewed session's old key: the writer saves again under the successor, index move included.
if status == 'moved' then return {status} end
local moved = index.leaving ~= '' and redis.call('ZREM', leave_key, index.leaving) == 1 and join_key == leave_key
if index.join ~= '' and status == 'written' then return index_join(join_key, index.join, index.created, limit, index.expire_at, {status}, moved) end
return {status}
