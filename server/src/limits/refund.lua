-- Gives back a reservation's entries that are still kept; removing an absent member is a no-op, so it is idempotent.
-- KEYS: (log, meta) pairs as in consume.lua; ARGV[i]: the member recorded in the i-th log.

for i = 1, #ARGV do
  local log, meta, member = KEYS[2 * i - 1], KEYS[2 * i], ARGV[i]
  if redis.call('ZREM', log, member) == 1 then
    if redis.call('EXISTS', log) == 0 then
      redis.call('DEL', meta)
    else
      local total = tonumber(redis.call('HGET', meta, 't')) - tonumber(string.match(member, '|([^|]*)$'))
      redis.call('HSET', meta, 't', string.format('%.17g', total))
    end
  end
end
return 0
