-- POST /api/v1/track with one event per request. Args: secret key.
local counter = 0
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = args[1]
end
function request()
  counter = counter + 1
  local body = string.format(
    '{"event":"page_view","customer_id":"cus_%d","properties":{"path":"/settings/billing","plan":"pro"}}', counter)
  return wrk.format(nil, "/api/v1/track", nil, body)
end
