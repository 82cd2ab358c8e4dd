-- wrk script: a weighted mix of POST /vectors/embed (new text each time: real
-- jobs), GET /jobs/{id}, GET /vectors/{id} and POST /vectors/search, counting
-- statuses per kind. Configured by environment (bench/load/run.py sets it):
--   LOAD_TOKEN    bearer token
--   LOAD_MIX      "embed=1,job=4,vector=4,search=1" (weights; 0 = off)
--   LOAD_IDS      file of lines "job <uuid>" / "point <uuid>" to read back
--   LOAD_OUT      where done() writes its JSON summary
--   LOAD_SEGMENTS 0: every embed names a new segment (the store grows); N: the
--                 segments s0..s(N-1) of asset load-<thread> in turn, each time
--                 with new text (a new job that replaces the segment's point),
--                 so the points stored stop growing once every segment exists
local kinds = {"embed", "job", "vector", "search"}
local threads = {}
local ids = {job = {}, point = {}}
local cum, total, counter = {}, 0, 0
local token = os.getenv("LOAD_TOKEN")
local segments = tonumber(os.getenv("LOAD_SEGMENTS") or "0")

local function parse_mix(s)
  local w = {}
  for k, v in string.gmatch(s, "(%w+)=(%d+)") do w[k] = tonumber(v) end
  return w
end

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local f = assert(io.open(os.getenv("LOAD_IDS"), "r"))
  for line in f:lines() do
    local kind, id = line:match("^(%w+) (%S+)$")
    if kind then table.insert(ids[kind], id) end
  end
  f:close()
  local w = parse_mix(os.getenv("LOAD_MIX") or "embed=1,job=4,vector=4,search=1")
  for i, k in ipairs(kinds) do
    total = total + (w[k] or 0)
    cum[i] = total
  end
  statuses = {}
  sent = {}
  math.randomseed(os.time() + tid * 7919)
end

local function pick()
  local r = math.random() * total
  for i, k in ipairs(kinds) do
    if r < cum[i] then return k end
  end
  return kinds[#kinds]
end

local hdr = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}

function request()
  local k = pick()
  sent[k] = (sent[k] or 0) + 1
  if k == "embed" then
    counter = counter + 1
    local seg = segments > 0 and counter % segments or counter
    local body = string.format('{"asset_id":"load-%d","segment_id":"s%d","text":"load test text %d %d %f"}',
                               tid, seg, tid, counter, math.random())
    return wrk.format("POST", "/vectors/embed", hdr, body)
  elseif k == "job" then
    return wrk.format("GET", "/jobs/" .. ids.job[math.random(#ids.job)], hdr)
  elseif k == "vector" then
    return wrk.format("GET", "/vectors/" .. ids.point[math.random(#ids.point)], hdr)
  else
    local body = string.format('{"query_text":"load test text %d","limit":10}', math.random(1000))
    return wrk.format("POST", "/vectors/search", hdr, body)
  end
end

function response(status, headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function done(summary, latency, requests)
  local st, sn = {}, {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do st[k] = (st[k] or 0) + v end
    for k, v in pairs(t:get("sent")) do sn[k] = (sn[k] or 0) + v end
  end
  local function obj(t)
    local parts = {}
    for k, v in pairs(t) do table.insert(parts, string.format('"%s":%d', k, v)) end
    return "{" .. table.concat(parts, ",") .. "}"
  end
  local e = summary.errors
  local f = assert(io.open(os.getenv("LOAD_OUT"), "w"))
  f:write(string.format('{"requests":%d,"duration_us":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,' ..
                        '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
                        '"statuses":%s,"sent":%s}\n',
                        summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
                        latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout,
                        obj(st), obj(sn)))
  f:close()
end
