"""A loopback receiver for outbound webhooks (http.server in a thread, so it serves the test's
own server and separate server processes alike), and helpers to wait for what it got."""
from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks import Webhook

from services.job_kinds import scheduler_for
from store.db import unit_of_work
from store.outbound import WebhookDelivery

OUTBOUND_ENV = {"WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS": "true", "WINDBACK_WEBHOOK_RETRY_SCALE": "0.001",
                "WINDBACK_SCHEDULER_POLL_SECONDS": "0.05"}


class Receiver:
    """Records every POST (headers, body) and answers from `statuses` in turn (then 200); with
    `hang`, it keeps the request open without answering until stopped."""

    def __init__(self, statuses=(), hang: bool = False):
        self.statuses = list(statuses)
        self.hang = hang
        self.received: list[tuple[dict, bytes]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    return  # the sender died mid-request (a kill -9): a receiver never sees this one
                with receiver._lock:
                    receiver.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                if receiver.hang:
                    receiver._stop.wait(30)
                    return
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(f"answer {status}".encode())

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, secret: str | None = None) -> list[dict]:
        """The JSON bodies received; each one's signature verified with `standardwebhooks` when
        `secret` is given (an invalid one raises)."""
        with self._lock:
            received = list(self.received)
        out = []
        for headers, body in received:
            if secret is not None:
                Webhook(secret).verify(body, headers)
            out.append(json.loads(body))
        return out

    def close(self) -> None:
        if not self._stop.is_set():
            self._stop.set()
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def receivers():
    """`receivers(statuses=..., hang=...)` makes a Receiver; all are closed after the test."""
    made = []

    def make(*args, **kw) -> Receiver:
        made.append(Receiver(*args, **kw))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@contextlib.asynccontextmanager
async def scheduling(ctx):
    """The process's real scheduler, running for the block (tests on the `api` fixture have no
    `Server.listen` to start it)."""
    scheduler = scheduler_for(ctx).start()
    try:
        yield scheduler
    finally:
        await scheduler.shutdown()


async def until(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())


def deliveries(**where) -> list[WebhookDelivery]:
    with unit_of_work():
        query = WebhookDelivery.select().order_by(WebhookDelivery.created_at)
        for name, value in where.items():
            query = query.where(getattr(WebhookDelivery, name) == value)
        return list(query)
