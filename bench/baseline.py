"""The ceiling: a bare Tornado app answering the same request shapes with fixed JSON.

    python bench/baseline.py PORT

POST parses the JSON body and answers a fixed JSON object (201); GET answers a fixed JSON list.
Every path is accepted, so a workload's lua script runs unchanged against it and the server.
"""
import asyncio
import json
import sys

import tornado.web

FIXED_EVENT = {"data": {"id": "ce_0123456789abcdef01234567", "customer_email": "a@example.com",
                        "status": "new", "mrr_cents": 4900, "currency": "USD"}}
FIXED_LIST = {"data": [FIXED_EVENT["data"]] * 20, "meta": {"page": 1, "per_page": 20, "total": 20}}


class Anything(tornado.web.RequestHandler):
    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")

    def get(self, _path):
        self.finish(json.dumps(FIXED_LIST))

    def post(self, _path):
        json.loads(self.request.body)
        self.set_status(201)
        self.finish(json.dumps(FIXED_EVENT))

    patch = post


async def main(port: int) -> None:
    app = tornado.web.Application([(r"/(.*)", Anything)], log_function=lambda handler: None)
    app.listen(port, "127.0.0.1")
    print(f"baseline listening on 127.0.0.1:{port}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
