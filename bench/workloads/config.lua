-- GET /api/v1/cancel-flow/config/<public key>, as the widget does. Args: public key.
function init(args)
  wrk.path = "/api/v1/cancel-flow/config/" .. args[1]
  wrk.headers["Origin"] = "https://shop.example"
end
