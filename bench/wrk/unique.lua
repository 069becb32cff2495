-- wrk script: rotates through a file of distinct tokens, one per request.
--   wrk -t1 -c8 -d10s -s bench/wrk/unique.lua http://127.0.0.1:9600/ -- <token file>
-- Each wrk thread starts at the first token and wraps around at the end of the file, so
-- a token is seen again only after every other token of the file (requests / tokens
-- times in a run).
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

local tokens, n, i

function init(args)
  tokens = common.read_tokens(assert(args[1], "usage: -- <token file>"))
  n = #tokens
  i = 0
end

function request()
  i = i % n + 1
  return wrk.format(nil, nil, { ["Authorization"] = "Bearer " .. tokens[i] })
end

done = common.done
