-- GET /api/v1/cancel-flow/config/<public key>, as the widget does. Args: public key (else $BENCH_PUBLIC_KEY).
function init(args)
  wrk.path = "/api/v1/cancel-flow/config/" .. (args[1] or os.getenv("BENCH_PUBLIC_KEY"))
  wrk.headers["Origin"] = "https://shop.example"
end
