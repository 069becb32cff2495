-- Shared by repeat.lua and unique.lua (loaded with dofile). At the end wrk prints one line
--   BENCH_RESULT {"requests":…,"duration_us":…,"rps":…,"p50_us":…,"p99_us":…,"errors":{…}}
-- that bench/run.py parses. errors.status counts responses with status > 399.
local M = {}

-- Lines of a token file (one token per line), as a Lua array.
function M.read_tokens(path)
  local f = assert(io.open(path, "r"), "cannot open token file " .. tostring(path))
  local tokens = {}
  for line in f:lines() do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  f:close()
  assert(#tokens > 0, "no tokens in " .. path)
  return tokens
end

function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"rps":%.2f,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end

return M
