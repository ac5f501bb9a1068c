-- GET /projects/:slug with the project's secret key: authentication (cached key lookup), tenancy
-- and one read.
local slug = os.getenv("BENCH_SLUG")
local key = os.getenv("BENCH_KEY")

request = function()
  return wrk.format("GET", "/api/v1/projects/" .. slug, {["X-API-Key"] = key})
end
