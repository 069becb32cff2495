-- wrk script: every request carries the same bearer token.
--   wrk -t1 -c8 -d10s -s bench/wrk/repeat.lua http://127.0.0.1:9600/ -- <token file>
-- The token is the first line of the file. With no file argument no Authorization header
-- is sent.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")

function init(args)
  if args[1] then
    wrk.headers["Authorization"] = "Bearer " .. common.read_tokens(args[1])[1]
  end
end

done = common.done
