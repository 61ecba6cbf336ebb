-- gb-bench's Lua workload (programs `lua-hooks` and `lua`): strings built,
-- split and dropped; tables grown, rehashed and emptied; about a third of
-- the objects survive a round, the rest is garbage. The algorithm of
-- gb-bench/hooks_bench.c's built-in script, which churn.py and churn.pl repeat
-- with their own containers: all three compute the same checksum, which
-- gb-bench computes too (src/programs/expected.rs, churn_checksum).
-- Usage: lua5.4 churn.lua ROUNDS (prints "checksum N"); hooks_bench runs it
-- as a chunk (ROUNDS its argument, the checksum its result).
local rounds = math.tointeger(tonumber((...)))
local keep, sum = {}, 0
for r = 1, rounds do
  local parts = {}
  for i = 1, 400 do parts[i] = string.format('%d:%s', i * r, string.rep('x', (i * 7 + r) % 48)) end
  local text = table.concat(parts, ',')
  local fields = {}
  for w in text:gmatch('[^,]+') do fields[#fields + 1] = { w, #w } end
  local index = {}
  for i = 1, #fields do index[fields[i][1]] = i end
  for i = 1, #fields, 3 do index[fields[i][1]] = nil end
  local n = 0
  for _, v in pairs(index) do n = n + v end
  sum = (sum + n + #text) % 1000000007
  keep[r % 97 + 1] = fields
end
if arg then print('checksum ' .. sum) end
return sum
