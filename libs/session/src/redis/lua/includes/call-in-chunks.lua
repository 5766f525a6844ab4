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
