-- POST /api/v1/track with a batch of N events per request. Args: secret key, N (default 100).
local body
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["X-API-Key"] = args[1]
  local n = tonumber(args[2] or "100")
  local items = {}
  for i = 1, n do
    items[i] = string.format(
      '{"event":"page_view","customer_id":"cus_%d","properties":{"path":"/settings/billing","plan":"pro"}}', i)
  end
  body = '{"events":[' .. table.concat(items, ",") .. ']}'
end
function request()
  return wrk.format(nil, "/api/v1/track", nil, body)
end
