-- redis.call(command, key, head..., ARGV[from], ..., ARGV[to]), split into calls of at most CHUNK
-- values of ARGV: Lua's unpack fails past a few thousand values (its C stack), and a session may
-- hold that many keys. `head` (optional) rides in the first call, sent alone when ARGV[from..to] is
-- empty; with neither, nothing is sent.

local CHUNK = 1000

local function call_in_chunks(command, key, from, to, ...)
  if select('#', ...) > 0 then
    local args = {...}
    local last = math.min(from + CHUNK - 1, to)
    for i = from, last do args[#args + 1] = ARGV[i] end
    redis.call(command, key, unpack(args))
    from = last + 1
  end
  for i = from, to, CHUNK do redis.call(command, key, unpack(ARGV, i, math.min(i + CHUNK - 1, to))) end
end

-- redis.call(command, key, list...), split the same way; nothing sent for an empty list. CHUNK is
-- even, so field/value pairs stay together.
local function call_list_in_chunks(command, key, list)
  for i = 1, #list, CHUNK do redis.call(command, key, unpack(list, i, math.min(i + CHUNK - 1, #list))) end
end

-- HMGET of `fields` (at least one), in as many calls as CHUNK needs; the values in one list.
local function hmget_in_chunks(key, fields)
  if #fields <= CHUNK then return redis.call('HMGET', key, unpack(fields)) end
  local values = {}
  for i = 1, #fields, CHUNK do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + CHUNK - 1, #fields)))
    for j = 1, #part do values[#values + 1] = part[j] end
  end
  return values
end
