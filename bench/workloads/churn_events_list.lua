-- GET /projects/:slug/churn-events?per_page=20 (a page of the newest events, with the total).
local slug = os.getenv("BENCH_SLUG")
local key = os.getenv("BENCH_KEY")

request = function()
  return wrk.format("GET", "/api/v1/projects/" .. slug .. "/churn-events?per_page=20",
    {["X-API-Key"] = key})
end
