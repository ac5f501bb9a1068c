-- GET /projects/:slug/stats with the secret key: the analytics answer, served from the project's
-- cache after the first request (any write to the project forgets it).
local slug = os.getenv("BENCH_SLUG")
local key = os.getenv("BENCH_KEY")

request = function()
  return wrk.format("GET", "/api/v1/projects/" .. slug .. "/stats", {["X-API-Key"] = key})
end
