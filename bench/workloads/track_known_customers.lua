-- track_single's requests, but from 2,000 customers in turn, each sending many events as real
-- customers do (track_single makes a new customer per request). Args: secret key (else $BENCH_KEY).
dofile("bench/workloads/track_single.lua")  -- init()
local counter = 0
local names = {"login", "report_viewed", "export_used", "dashboard_viewed"}
function request()
  counter = counter + 1
  local body = string.format('{"event":"%s","customer_id":"cus_%d","properties":{"plan":"pro"}}',
    names[counter % 4 + 1], counter % 2000)
  return wrk.format(nil, "/api/v1/track", nil, body)
end
