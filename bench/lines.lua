-- bench/lines.lua: a wrk script that POSTs a different form body per request, read from the file
-- BENCH_BODIES (one body per line; each thread takes every Nth line, so no body is sent twice), to
-- BENCH_PATH: for requests that must differ (client assertions, whose jti is single-use). Counts 2xx,
-- other statuses and exhausted bodies; prints one RESULT {json} line like scenario.lua.
local path = os.getenv("BENCH_PATH") or "/token"
local file = os.getenv("BENCH_BODIES")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("idx", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  bodies, pos, n_ok, n_non2xx, n_exhausted, first_failure = {}, 1, 0, 0, 0, ""
  local i = 0
  for line in io.lines(file) do
    if i % counter_total() == idx then bodies[#bodies + 1] = line end
    i = i + 1
  end
end

function counter_total()
  return tonumber(os.getenv("BENCH_THREADS") or "2")
end

function request()
  local b = bodies[pos]
  if b == nil then
    n_exhausted = n_exhausted + 1
    b = bodies[1]
  end
  pos = pos + 1
  return wrk.format("POST", path, { ["Content-Type"] = "application/x-www-form-urlencoded" }, b)
end

function response(status, headers, body)
  if status >= 200 and status <= 299 then
    n_ok = n_ok + 1
  else
    n_non2xx = n_non2xx + 1
    if first_failure == "" then first_failure = status .. " " .. string.sub(body or "", 1, 160) end
  end
end

function done(summary, latency, requests)
  local ok, non2xx, exhausted = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("n_ok")
    non2xx = non2xx + t:get("n_non2xx")
    exhausted = exhausted + t:get("n_exhausted")
  end
  local secs = summary.duration / 1e6
  io.write(string.format('RESULT {"requests":%d,"ok_rps":%.0f,"p50_ms":%.2f,"p99_ms":%.2f,"non2xx":%d,"exhausted":%d}\n',
    summary.requests, ok / secs, latency:percentile(50) / 1000, latency:percentile(99) / 1000, non2xx, exhausted))
end
