-- POST /projects/:slug/churn-events/:id/generate: the nine variants written (template writer) and
-- stored through the project's actor, replacing the unsent ones; each request takes the next of
-- 500 events (variants_generate.setup.py), so concurrent requests rarely share one (a generation
-- already running for an event answers 409).
local prefix = "/api/v1/projects/" .. os.getenv("BENCH_SLUG") .. "/churn-events/"
local key = os.getenv("BENCH_KEY")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads)
end

function init(args)
  events = {}
  for line in io.lines(os.getenv("BENCH_EVENTS_FILE")) do
    events[#events + 1] = line
  end
  step = tonumber(os.getenv("BENCH_THREADS") or "2")
  index = offset or 1
end

request = function()
  local id = events[((index - 1) % #events) + 1]
  index = index + step
  return wrk.format("POST", prefix .. id .. "/generate", {["X-API-Key"] = key, ["Content-Type"] = "application/json"}, "")
end
