-- POST /api/v1/track, one event per request, from 2,000 customers in turn (each sends many
-- events, as real customers do; track_single makes a new customer per request). Args: secret key (else $BENCH_KEY).
local counter = 0
local names = {"login", "report_viewed", "export_used", "dashboard_viewed"}
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = args[1] or os.getenv("BENCH_KEY")
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"event":"%s","customer_id":"cus_%d","properties":{"path":"/settings/billing","plan":"pro"}}',
    names[counter % 4 + 1], counter % 2000)
  return wrk.format(nil, "/api/v1/track", nil, body)
end
