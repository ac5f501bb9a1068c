-- POST /projects/:slug/churn-events with a new customer email on every request (each goes
-- through the project's actor and inserts a row).
local slug = os.getenv("BENCH_SLUG")
local key = os.getenv("BENCH_KEY")
local run = os.getenv("BENCH_RUN_ID") or tostring(os.time())
local threads = 0
local counter = 0

-- Runs in wrk's main state once per thread: give each thread its own email prefix (a global
-- of that thread's state).
function setup(thread)
  threads = threads + 1
  thread:set("email_prefix", run .. "-" .. threads)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"customer_email":"c%s-%d@example.com","customer_name":"Casey","plan":"pro","mrr_cents":4900,"cancel_reason":"too_expensive"}',
    email_prefix or "t", counter)
  return wrk.format("POST", "/api/v1/projects/" .. slug .. "/churn-events",
    {["X-API-Key"] = key, ["Content-Type"] = "application/json"}, body)
end
