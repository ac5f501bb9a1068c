-- POST /projects/:slug/churn-events like churn_events_create, but each request for the next of
-- 10,000 projects (read from the file churn_events_create_spread.setup.py wrote: "slug<TAB>key"
-- per line), so every project is touched once per 10,000 requests and far more projects are
-- active than WINDBACK_MAX_ACTORS: most requests find their project's actor evicted.
local file = os.getenv("BENCH_PROJECTS_FILE")
local run = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads)
  thread:set("email_prefix", run .. "-" .. threads)
end

function init(args)
  projects = {}
  for line in io.lines(file) do
    local tab = string.find(line, "\t", 1, true)
    projects[#projects + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
  end
  step = tonumber(os.getenv("BENCH_THREADS") or "2")
  index = offset or 1
  counter = 0
end

request = function()
  local project = projects[((index - 1) % #projects) + 1]
  index = index + step
  counter = counter + 1
  local body = string.format(
    '{"customer_email":"c%s-%d@example.com","customer_name":"Casey","plan":"pro","mrr_cents":4900,"cancel_reason":"too_expensive"}',
    email_prefix or "t", counter)
  return wrk.format("POST", "/api/v1/projects/" .. project[1] .. "/churn-events",
    {["X-API-Key"] = project[2], ["Content-Type"] = "application/json"}, body)
end
