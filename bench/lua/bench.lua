-- One wrk script for every row of bench/run. Configured through the environment:
--   BENCH_METHOD   POST (default) or GET
--   BENCH_PATH     request path (default /)
--   BENCH_TARGET   X-Amz-Target (awsJson1_1 rows); empty for restJson1
--   BENCH_SERVICE  SigV4 scope service: servicediscovery | kafkaconnect
--   BENCH_KEY      access key id (a 12-digit key is the account in localplane)
--   BENCH_BODY     request body (fixed rows)
--   BENCH_EXPECT   a substring every correct 200 body must contain
--   BENCH_MODE     "fixed" (default) or "register": RegisterInstance with a distinct InstanceId per
--                  request, spread round-robin over BENCH_SERVICES ("key:srv-id,key:srv-id,...")
--                  "register-cycle": RegisterInstance over a fixed set of BENCH_IDS instance ids per
--                  thread (re-registrations: no quota is ever reached)
--                  "deregister": RegisterInstance and DeregisterInstance alternating, each deregistration
--                  of an id registered 1,024 sends earlier (every answer counts: half of the rate is
--                  deregistrations)
--                  "create-service": CreateService with a new name per request in BENCH_NAMESPACE
--                  "update-service": UpdateService cycling over BENCH_SERVICES (ids in a DNS namespace)
--                  "unique-body": BENCH_METHOD BENCH_PATH with BENCH_BODY, its "@N@" replaced by a name
--                  new to every request (BENCH_TAG-thread-n): CreateConnector
--                  "update-connector": UpdateConnector over the connectors of BENCH_CONNECTORS (ARNs,
--                  comma-separated; thread t takes every BENCH_THREADS-th from the t-th), each after
--                  a DescribeConnector that reads its currentVersion (every answer counts: about half
--                  of the rate is describes)
--   BENCH_IDS      register-cycle: instance ids per thread (default 4000)
--   BENCH_NAMESPACE create-service: the namespace id
--   BENCH_TAG      prefix of the generated instance ids (distinct per run)
--   BENCH_QUOTA    register mode: registrations per thread, then the thread stops (0 = until -d
--                  ends; wrk itself still runs until -d ends)
--   BENCH_PAUSE_MS paced runs: after every response a connection waits a random number of whole
--                  milliseconds (wrk's timers count whole milliseconds) whose mean is this (it may
--                  be fractional), drawn so that the connections do not wake in step: uniform on
--                  0 to 2 × this, rounded up or down at random in proportion (0 = back to back,
--                  the default)
-- done() prints one line: BENCHJSON {...} with the counts and the latency percentiles (µs).

local method = os.getenv("BENCH_METHOD") or "POST"
local path = os.getenv("BENCH_PATH") or "/"
local target = os.getenv("BENCH_TARGET") or ""
local service = os.getenv("BENCH_SERVICE") or "servicediscovery"
local key = os.getenv("BENCH_KEY") or "123456789012"
local body = os.getenv("BENCH_BODY") or ""
local expect = os.getenv("BENCH_EXPECT") or ""
local mode = os.getenv("BENCH_MODE") or "fixed"
local tag = os.getenv("BENCH_TAG") or "b"
local quota = tonumber(os.getenv("BENCH_QUOTA") or "0")
local pause_ms = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
local random = math.random

local function auth_for(k)
  return "AWS4-HMAC-SHA256 Credential=" .. k .. "/20260101/us-east-1/" .. service ..
         "/aws4_request, SignedHeaders=host;x-amz-date, Signature=" .. string.rep("0", 64)
end

local function headers_for(k)
  local h = {}
  h["Authorization"] = auth_for(k)
  h["X-Amz-Date"] = "20260101T000000Z"
  if target ~= "" then
    h["X-Amz-Target"] = target
    h["Content-Type"] = "application/x-amz-json-1.1"
  else
    h["Content-Type"] = "application/json"
  end
  return h
end

-- setup() runs in the main Lua state, once per thread: number the threads, keep them for done().
local threads = {}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

-- Per thread (each wrk thread has its own Lua state).
ok, non2xx, badbody, sent = 0, 0, 0, 0
local fixed_request
local services = {}
local nthreads = 1

function init(args)
  math.randomseed(os.time() * 100 + (tid or 0))
  nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
  if mode ~= "fixed" then
    for entry in string.gmatch(os.getenv("BENCH_SERVICES") or "", "[^,]+") do
      local k, s = string.match(entry, "([^:]+):(.+)")
      table.insert(services, { key = k, id = s, headers = headers_for(k) })
    end
  else
    fixed_request = wrk.format(method, path, headers_for(key), body ~= "" and body or nil)
  end
end

local ids = tonumber(os.getenv("BENCH_IDS") or "4000")
local namespace = os.getenv("BENCH_NAMESPACE") or ""
local sd_prefix = "Route53AutoNaming_v20170314."
local counted = {}

local function with_target(h, op)
  local c = {}
  for k, v in pairs(h) do c[k] = v end
  c["X-Amz-Target"] = sd_prefix .. op
  c["Content-Type"] = "application/x-amz-json-1.1"
  return c
end

local function register_body(srv, id, n)
  return '{"ServiceId":"' .. srv .. '","InstanceId":"' .. id .. '","Attributes":{"AWS_INSTANCE_IPV4":"10.' ..
         (n % 250) .. '.' .. (tid % 250) .. '.7","AWS_INSTANCE_PORT":"8080","stage":"blue","zone":"z' .. (n % 3) .. '"}}'
end

local function cycle_request()
  local n = sent
  sent = sent + 1
  local s = services[((n * nthreads + tid - 1) % #services) + 1]
  local h = s.hdr
  if not h then
    s.hdr = {
      RegisterInstance = with_target(s.headers, "RegisterInstance"),
      DeregisterInstance = with_target(s.headers, "DeregisterInstance"),
      CreateService = with_target(s.headers, "CreateService"),
      UpdateService = with_target(s.headers, "UpdateService"),
    }
    h = s.hdr
  end
  if mode == "register-cycle" then
    local id = tag .. "-" .. tid .. "-" .. (n % ids)
    return wrk.format("POST", "/", h.RegisterInstance, register_body(s.id, id, n))
  elseif mode == "deregister" then
    -- Even sends register id n/2; odd ones deregister the id registered 1,024 sends earlier (long
    -- answered: a thread's connections have one request in flight each), or register while none is.
    local pair = math.floor(n / 2)
    local gone = pair - 512
    if n % 2 == 0 or gone < 0 then
      local srv = services[(pair % #services) + 1].id
      local id = tag .. "-" .. tid .. "-" .. (n % 2) .. "-" .. pair
      return wrk.format("POST", "/", h.RegisterInstance, register_body(srv, id, pair))
    end
    local srv = services[(gone % #services) + 1].id
    local id = tag .. "-" .. tid .. "-0-" .. gone
    return wrk.format("POST", "/", h.DeregisterInstance, '{"ServiceId":"' .. srv .. '","InstanceId":"' .. id .. '"}')
  elseif mode == "create-service" then
    return wrk.format("POST", "/", h.CreateService,
      '{"Name":"' .. tag .. "-" .. tid .. "-" .. n .. '","NamespaceId":"' .. namespace .. '","Type":"HTTP"}')
  else -- update-service
    return wrk.format("POST", "/", h.UpdateService, '{"Id":"' .. s.id .. '","Service":{"Description":"d' .. n ..
      '","DnsConfig":{"DnsRecords":[{"Type":"A","TTL":' .. (n % 100 + 1) .. '}]}}}')
  end
end

local unique_headers

-- update-connector: this thread's connectors, by ARN: its escaped path and the version last read
-- (nil: describe it next; false: a request on it is in flight).
local connectors, connector_list, turn = {}, {}, 0

local function connector_request()
  unique_headers = unique_headers or headers_for(key)
  if #connector_list == 0 then
    local i = 0
    for arn in string.gmatch(os.getenv("BENCH_CONNECTORS") or "", "[^,]+") do
      if i % nthreads == tid - 1 then
        local c = { arn = arn, path = "/v1/connectors/" .. arn:gsub("[:/]", function(ch)
          return string.format("%%%02X", string.byte(ch)) end), version = nil }
        connectors[arn] = c
        table.insert(connector_list, c)
      end
      i = i + 1
    end
  end
  for _ = 1, #connector_list do
    turn = turn % #connector_list + 1
    local c = connector_list[turn]
    if c.version ~= false then
      local v = c.version
      c.version = false
      sent = sent + 1
      if v == nil then
        return wrk.format("GET", c.path, unique_headers)
      end
      return wrk.format("PUT", c.path .. "?currentVersion=" .. v, unique_headers,
        '{"connectorConfiguration":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector",' ..
        '"tasks.max":"1","bench.n":"' .. sent .. '"}}')
    end
  end
  -- Every connector of this thread has a request in flight (more connections than connectors).
  return wrk.format("GET", "/_localplane/health")
end

-- update-connector: a describe's answer gives the version, an update's answer asks for a describe.
local function connector_answered(rbody)
  local arn = string.match(rbody or "", '"connectorArn":"([^"]+)"')
  local c = arn and connectors[arn]
  if c then
    c.version = string.match(rbody, '"currentVersion":"([^"]+)"')
  end
end

function request()
  if mode == "fixed" then
    return fixed_request
  end
  if mode == "unique-body" then
    unique_headers = unique_headers or headers_for(key)
    local n = sent
    sent = sent + 1
    local name = tag .. "-" .. tid .. "-" .. n
    return wrk.format(method, path, unique_headers, (string.gsub(body, "@N@", name)))
  end
  if mode == "update-connector" then
    return connector_request()
  end
  if mode ~= "register" then
    return cycle_request()
  end
  local n = sent
  sent = sent + 1
  if quota > 0 and n >= quota then
    -- Over this thread's quota while its last registrations are in flight: a health check, which
    -- registers nothing (and is not counted as ok); response() stops the thread.
    return wrk.format("GET", "/_localplane/health")
  end
  local g = n * nthreads + (tid - 1)
  local s = services[(g % #services) + 1]
  local id = tag .. "-" .. tid .. "-" .. n
  local b = '{"ServiceId":"' .. s.id .. '","InstanceId":"' .. id .. '","CreatorRequestId":"' .. id ..
            '","Attributes":{"AWS_INSTANCE_IPV4":"10.' .. (n % 250) .. '.' .. (tid % 250) .. '.7",' ..
            '"AWS_INSTANCE_PORT":"8080","stage":"blue","zone":"z' .. (n % 3) .. '"}}'
  return wrk.format("POST", "/", s.headers, b)
end

if pause_ms > 0 then
  -- wrk calls delay() before each request when it is defined, and waits that long.
  function delay()
    local d = random() * 2 * pause_ms
    local whole = math.floor(d)
    if random() < d - whole then
      whole = whole + 1
    end
    return whole
  end
end

function response(status, headers, rbody)
  if mode == "update-connector" then
    connector_answered(rbody)
  end
  if status == 200 then
    if expect == "" or string.find(rbody, expect, 1, true) then
      ok = ok + 1
    else
      badbody = badbody + 1
    end
  else
    non2xx = non2xx + 1
    if non2xx == 1 then
      -- The first failure of each thread, for the record (bench.py keeps it).
      io.stderr:write("BENCHERR " .. status .. " " .. string.sub(rbody or "", 1, 300):gsub("\n", " ") .. "\n")
    end
  end
  if mode == "register" and quota > 0 and ok + non2xx >= quota then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local tok, tnon, tbad = 0, 0, 0
  for _, t in ipairs(threads) do
    tok = tok + (t:get("ok") or 0)
    tnon = tnon + (t:get("non2xx") or 0)
    tbad = tbad + (t:get("badbody") or 0)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"ok":%d,"non2xx":%d,"badbody":%d,"requests":%d,"duration_us":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50":%d,"p99":%d,"mean":%.1f,"max":%d}\n',
    tok, tnon, tbad, summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max))
end
