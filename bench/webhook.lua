-- wrk script for bench/webhook.sh: replays pre-signed webhook deliveries (25% inbound
-- text messages, 75% status updates, every one with its own id). Each wrk thread reads
-- its own file of "<signature>\t<body>" lines, written by webhook.sh, so no two requests
-- carry the same delivery.

local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  table.insert(threads, thread)
  counter = counter + 1
end

function init(args)
  local dir = args[1]
  requests = {}
  for line in io.lines(string.format("%s/bodies-%d.txt", dir, id)) do
    local tab = string.find(line, "\t", 1, true)
    local sig = string.sub(line, 1, tab - 1)
    local body = string.sub(line, tab + 1)
    table.insert(requests, wrk.format("POST", "/api/whatsapp/webhook", {
      ["Content-Type"] = "application/json",
      ["X-Hub-Signature-256"] = sig,
    }, body))
  end
  next_request = 1
  wrapped = 0
  non200 = 0
end

function request()
  local r = requests[next_request]
  next_request = next_request + 1
  if next_request > #requests then
    next_request = 1
    wrapped = wrapped + 1
  end
  return r
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad, wraps = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    wraps = wraps + t:get("wrapped")
  end
  io.write(string.format("non-200 answers: %d\n", bad))
  if wraps > 0 then
    io.write(string.format("note: the pre-signed bodies ran out %d times (duplicates were sent)\n", wraps))
  end
end
