"""The bare Tornado ceiling: the same routes and payloads as Windback, with no work behind them.

`python bench/baseline_server.py PORT CONFIG_FILE` serves
- `GET /api/v1/cancel-flow/config/<key>`: the bytes of CONFIG_FILE (a real config answer),
- `POST /api/v1/track`: parses the JSON body and answers 202 `{"data": {"accepted": N}}`.
"""
import asyncio
import json
import sys

import tornado.web


class ConfigHandler(tornado.web.RequestHandler):
    def initialize(self, body: bytes):
        self.body = body

    def get(self, public_key):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "public, max-age=60")
        self.finish(self.body)


class TrackHandler(tornado.web.RequestHandler):
    def post(self):
        body = json.loads(self.request.body)
        accepted = len(body["events"]) if "events" in body else 1
        self.set_status(202)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"data": {"accepted": accepted}}))


async def main(port: int, config_path: str) -> None:
    with open(config_path, "rb") as handle:
        config = handle.read()
    app = tornado.web.Application([
        (r"/api/v1/cancel-flow/config/([^/]+)", ConfigHandler, {"body": config}),
        (r"/api/v1/track", TrackHandler),
    ], log_function=lambda handler: None)
    app.listen(port, "127.0.0.1")
    print(f"baseline listening on {port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
