-- POST /webhooks/stripe/:public_key: signed Stripe deliveries, each with its own event id (read
-- from the file written by webhooks_stripe.setup.py: "signature<TAB>body" per line), so every one
-- is verified, stored durably and queued for the project's actor.
local path = "/api/v1/webhooks/stripe/" .. os.getenv("BENCH_PUBLIC_KEY")
local file = os.getenv("BENCH_WEBHOOKS_FILE")
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("offset", threads)
end

function init(args)
  deliveries = {}
  for line in io.lines(file) do
    local tab = string.find(line, "\t", 1, true)
    deliveries[#deliveries + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
  end
  step = tonumber(os.getenv("BENCH_THREADS") or "2")
  index = offset or 1
end

request = function()
  local delivery = deliveries[((index - 1) % #deliveries) + 1]
  index = index + step
  return wrk.format("POST", path, {["Stripe-Signature"] = delivery[1], ["Content-Type"] = "application/json"},
    delivery[2])
end
