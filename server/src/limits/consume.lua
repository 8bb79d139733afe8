-- Check-and-record of every limit of one call, atomic because Redis runs one script at a time. The semantics are
-- in limit-store.ts and mirror memory-limit-store.ts + sliding-log.ts step for step.
--
-- KEYS, per distinct limit key i: KEYS[2i-1] = log  (sorted set: score = admission time in ms,
--                                                     member = "<entry id>|<weight>"),
--                                 KEYS[2i]   = meta (hash: t = total weight in the log,
--                                                     h = retention = longest window of an admitted call)
-- ARGV: [1] now in ms, or '' for the Redis server clock (one clock for every gateway instance)
--       [2] entry id, unique per call   [3] n = number of keys   [3+i] weight recorded on key i
--       then one (key index, windowMs, max) triple per limit
-- Returns {1} when admitted, else {0, limit number, retryAfterMs, ...} for each exceeded limit
-- (retryAfterMs '-1' = never: the weight is larger than max).

local now
if ARGV[1] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
local n = tonumber(ARGV[3])
local firstLimit = 4 + n

-- tostring() keeps 14 digits, too few for millisecond timestamps; %.17g round-trips every double.
local function num(x) return string.format('%.17g', x) end
local function weightOf(member) return tonumber(string.match(member, '|([^|]*)$')) end

-- keep[i]: entries older than this cannot matter to any limit reading key i. It is the longer of the retention
-- stored by earlier admissions and this call's longest window on the key.
local total, keep, longest, weight = {}, {}, {}, {}
for i = 1, n do
  total[i], longest[i], weight[i] = 0, 0, tonumber(ARGV[3 + i])
end
for a = firstLimit, #ARGV, 3 do
  local i, windowMs = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  if windowMs > longest[i] then longest[i] = windowMs end
end
for i = 1, n do
  local log, meta = KEYS[2 * i - 1], KEYS[2 * i]
  keep[i] = longest[i]
  -- Without a log any meta left is stale: the key starts afresh.
  if redis.call('EXISTS', log) == 1 then
    local stored = redis.call('HMGET', meta, 't', 'h')
    total[i] = tonumber(stored[1]) or 0
    keep[i] = math.max(longest[i], tonumber(stored[2]) or 0)
    -- Drop entries older than every window that may read them. Invisible to the semantics, so done on denials too.
    local cutoff = num(now - keep[i])
    local old = redis.call('ZRANGEBYSCORE', log, '-inf', cutoff)
    if #old > 0 then
      redis.call('ZREMRANGEBYSCORE', log, '-inf', cutoff)
      if redis.call('EXISTS', log) == 0 then
        -- An empty log restarts from zero: no stored retention, no float drift.
        redis.call('DEL', meta)
        total[i], keep[i] = 0, longest[i]
      else
        for _, member in ipairs(old) do total[i] = total[i] - weightOf(member) end
        redis.call('HSET', meta, 't', num(total[i]))
      end
    end
  end
end

local denied = {0}
for a = firstLimit, #ARGV, 3 do
  local i, windowMs, max = tonumber(ARGV[a]), tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2])
  local log, since = KEYS[2 * i - 1], '(' .. num(now - windowMs)
  local used = total[i]
  if windowMs < keep[i] then
    -- A shorter window than the log keeps (a counter shared by limits with different windows): sum its part.
    used = 0
    for _, member in ipairs(redis.call('ZRANGEBYSCORE', log, since, '+inf')) do used = used + weightOf(member) end
  end
  if used + weight[i] > max then
    local retryAfter = '-1'
    local removed = 0
    local entries = redis.call('ZRANGEBYSCORE', log, since, '+inf', 'WITHSCORES')
    for e = 1, #entries, 2 do
      removed = removed + weightOf(entries[e])
      if used - removed + weight[i] <= max then
        retryAfter = num(tonumber(entries[e + 1]) + windowMs - now)
        break
      end
    end
    denied[#denied + 1] = (a - firstLimit) / 3
    denied[#denied + 1] = retryAfter
  end
end
if #denied > 1 then return denied end

for i = 1, n do
  if weight[i] > 0 then
    local log, meta, ttl = KEYS[2 * i - 1], KEYS[2 * i], math.ceil(keep[i])
    redis.call('ZADD', log, num(now), ARGV[2] .. '|' .. ARGV[3 + i])
    redis.call('HSET', meta, 't', num(total[i] + weight[i]), 'h', num(keep[i]))
    -- Both vanish once the newest entry has left the longest window.
    redis.call('PEXPIRE', log, ttl)
    redis.call('PEXPIRE', meta, ttl)
  end
end
return {1}
