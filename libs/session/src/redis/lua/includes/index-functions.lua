-- A user's index is a sorted set of session digests scored by creation time. index-add.lua works
-- on the index alone (Redis Cluster, where the session and the index live in different slots);
-- save-and-index.lua saves the session and moves its index entry in one atomic step (standalone
-- and Sentinel). Both use these functions.

local function extend_expiry(key, expire_at)
  -- Only ever later: the index must outlive every member, whichever of them set it last. An index
  -- without a TTL (-1, written by an older version) gets one.
  if redis.call('PEXPIRETIME', key) < tonumber(expire_at) then redis.call('PEXPIREAT', key, expire_at) end
end

-- Drops members past the absolute timeout and answers whether `digest` would find no room (reject
-- policy). A session moving within the index (`leaving` a member: an ID change) adds none, so it is
-- never refused, even where the index holds more than a lowered limit.
local function index_full(key, digest, oldest, limit, on_limit, leaving)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. oldest)
  if limit == 0 or on_limit ~= 'reject' or redis.call('ZSCORE', key, digest) then return false end
  if leaving ~= '' and redis.call('ZSCORE', key, leaving) then return false end
  return redis.call('ZCARD', key) >= limit
end

-- Adds `digest`, evicts the oldest other members past the limit (appended to `reply`) unless it
-- `moved` in from another member of the index (an ID change adds no session, so it evicts none),
-- and moves the index's expiry to `expire_at` unless it is later already.
local function index_join(key, digest, created, limit, expire_at, reply, moved)
  redis.call('ZADD', key, created, digest)
  if limit > 0 and not moved then
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
