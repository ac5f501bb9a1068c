-- GET /health: the cheapest request (one SELECT 1 on a worker thread), the floor of every other.
request = function()
  return wrk.format("GET", "/health")
end
