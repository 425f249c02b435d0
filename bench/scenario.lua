-- bench/scenario.lua: the one wrk script behind every scenario of bench/run.sh.
--
-- Configured through the environment (run.sh sets these per scenario):
--   BENCH_METHOD  GET or POST (default GET)
--   BENCH_PATH    request path, e.g. /token (default /)
--   BENCH_BODY    form body sent with POST (application/x-www-form-urlencoded)
--   BENCH_AUTH    value of the Authorization header (optional), e.g. "Basic YmVuY2g6..."
--   BENCH_EXPECT  a plain substring every expected body must contain (optional); several alternatives
--                 separated by '|' (any one will do), e.g. '"authorization_pending"|"slow_down"'
--   BENCH_STATUS  the expected status (optional; default any 2xx), e.g. 400 for the device poll
--   BENCH_BODIES  a file of form bodies, one per line (optional): each thread sends them in turn, starting
--                 at a different line, instead of BENCH_BODY
--   BENCH_CLOSE   1: send "Connection: close", so every request opens a new connection (over TLS, a full
--                 handshake: bench/tls.sh measures handshakes per second with it)
--   BENCH_DPOP_FILE  a file of DPoP proofs, one per line (bench/dpop_proofs.c): each request carries the
--                 next one in a DPoP header (thread i of BENCH_THREADS takes lines i, i+n, ...), since the
--                 server spends each proof once; a thread that runs out stops
--
-- Each wrk thread classifies its responses:
--   ok       the expected status (2xx by default) with a body containing BENCH_EXPECT
--   non2xx   any other status
--   badbody  the expected status without BENCH_EXPECT (e.g. an error document served with 200)
-- done() sums the threads and prints exactly one machine-readable line:
--   RESULT {"requests":..,"rps":..,"ok_rps":..,"p50_ms":..,"p90_ms":..,"p99_ms":..,"errors":..,...}
-- where errors = non2xx + badbody + socket errors (connect/read/write) + timeouts.

local function env(name, default)
  local v = os.getenv(name)
  if v == nil or v == "" then return default end
  return v
end

local cfg = {
  method = env("BENCH_METHOD", "GET"),
  path = env("BENCH_PATH", "/"),
  body = env("BENCH_BODY", ""),
  auth = env("BENCH_AUTH", nil),
  expect = env("BENCH_EXPECT", nil),
  status = tonumber(env("BENCH_STATUS", "")),
  bodies = env("BENCH_BODIES", nil),
  close = env("BENCH_CLOSE", nil) == "1",
  dpop_file = env("BENCH_DPOP_FILE", nil),
  threads = tonumber(env("BENCH_THREADS", "1")),
}

local expects = nil
if cfg.expect ~= nil then
  expects = {}
  for alt in string.gmatch(cfg.expect, "[^|]+") do expects[#expects + 1] = alt end
end

local function status_ok(status)
  if cfg.status ~= nil then return status == cfg.status end
  return status >= 200 and status <= 299
end

local function body_ok(body)
  if expects == nil then return true end
  if body == nil then return false end
  for _, alt in ipairs(expects) do
    if string.find(body, alt, 1, true) then return true end
  end
  return false
end

-- Build the request once; it is identical for every call.
do
  local headers = { ["Accept"] = "application/json" }
  local body = nil
  if cfg.auth then headers["Authorization"] = cfg.auth end
  if cfg.close then headers["Connection"] = "close" end
  if cfg.method == "POST" then
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    body = cfg.body
  end
  wrk.method = cfg.method
  wrk.path = cfg.path
  wrk.headers = headers
  wrk.body = body
end

local all_threads = {}

function setup(thread)
  all_threads[#all_threads + 1] = thread
  thread:set("thread_index", #all_threads)
end

-- Per-thread state (each wrk thread has its own Lua state; these are its globals).
function init(args)
  n_ok, n_non2xx, n_badbody = 0, 0, 0
  first_failure = ""
  if cfg.bodies ~= nil then
    list = {}
    for line in io.lines(cfg.bodies) do
      if line ~= "" then list[#list + 1] = wrk.format(nil, nil, nil, line) end
    end
    -- Threads start far apart in the list, so that they do not send the same body at the same time.
    next_i = ((thread_index or 1) - 1) * math.floor(#list / 2) % math.max(#list, 1)
  end
  if cfg.dpop_file ~= nil then
    proofs, next_proof = {}, 1
    local i = 0
    for line in io.lines(cfg.dpop_file) do
      if i % cfg.threads == (thread_index or 1) - 1 then proofs[#proofs + 1] = line end
      i = i + 1
    end
  end
end

-- Without BENCH_BODIES there is no request() function: wrk then formats the request once and reuses it
-- (its "static" fast path). With it, each request is one of the preformatted ones, in turn.
if cfg.bodies ~= nil then
  function request()
    next_i = next_i % #list + 1
    return list[next_i]
  end
end

-- With BENCH_DPOP_FILE each request is formatted with the next proof (no static fast path either).
if cfg.dpop_file ~= nil then
  function request()
    local p = proofs[next_proof]
    if p == nil then
      -- Out of proofs: stop, and let what is still sent fail visibly (an error) rather than pass unbound.
      wrk.thread:stop()
      p = "exhausted"
    end
    next_proof = next_proof + 1
    wrk.headers["DPoP"] = p
    return wrk.format()
  end
end

local function note_failure(what)
  if first_failure == "" then first_failure = what end
end

function response(status, headers, body)
  if not status_ok(status) then
    n_non2xx = n_non2xx + 1
    note_failure(status .. " " .. string.sub(body or "", 1, 160))
  elseif not body_ok(body) then
    n_badbody = n_badbody + 1
    note_failure(status .. " " .. string.sub(body or "", 1, 160))
  else
    n_ok = n_ok + 1
  end
end

local function json_string(s)
  -- Keep the sample printable and JSON-safe: drop control characters, escape quotes and backslashes.
  s = string.gsub(s, "%c", " ")
  s = string.gsub(s, "\\", "\\\\")
  s = string.gsub(s, '"', '\\"')
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local ok, non2xx, badbody, sample = 0, 0, 0, ""
  for _, t in ipairs(all_threads) do
    ok = ok + (t:get("n_ok") or 0)
    non2xx = non2xx + (t:get("n_non2xx") or 0)
    badbody = badbody + (t:get("n_badbody") or 0)
    if sample == "" then sample = t:get("first_failure") or "" end
  end
  local e = summary.errors
  local sock = e.connect + e.read + e.write
  local seconds = summary.duration / 1e6
  if seconds <= 0 then seconds = 1e-9 end
  local function ms(us) return us / 1000.0 end
  local fields = {
    string.format('"requests":%d', summary.requests),
    string.format('"seconds":%.3f', seconds),
    string.format('"rps":%.1f', summary.requests / seconds),
    string.format('"ok_rps":%.1f', ok / seconds),
    string.format('"p50_ms":%.3f', ms(latency:percentile(50))),
    string.format('"p90_ms":%.3f', ms(latency:percentile(90))),
    string.format('"p99_ms":%.3f', ms(latency:percentile(99))),
    string.format('"max_ms":%.3f', ms(latency.max)),
    string.format('"ok":%d', ok),
    string.format('"non2xx":%d', non2xx),
    string.format('"badbody":%d', badbody),
    string.format('"sock_errors":%d', sock),
    string.format('"timeouts":%d', e.timeout),
    string.format('"errors":%d', non2xx + badbody + sock + e.timeout),
    '"sample":' .. json_string(sample),
  }
  io.write("RESULT {" .. table.concat(fields, ",") .. "}\n")
end
