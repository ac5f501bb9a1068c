"""Outbound webhook URLs cannot reach into the server's own network (SSRF): https only, every
resolved address public, checked at create and again at each delivery; redirects not followed;
at most 64 KiB of an answer read. WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS=true lifts the address rules."""
from __future__ import annotations

import http.server
import socket
import threading

import pytest

from store.db import unit_of_work
from store.url_safety import is_public
from store.webhook_endpoints import create_endpoint
from tests.outbound_support import OUTBOUND_ENV, deliveries, receivers, scheduling, until  # noqa: F401 - fixture

REFUSED = ["https://127.0.0.1/hook", "https://localhost/hook", "https://10.1.2.3/hook", "https://192.168.0.10/hook",
           "https://169.254.169.254/latest/meta-data", "https://[::1]/hook", "https://[::ffff:127.0.0.1]/hook",
           "https://100.64.0.1/hook", "https://0.0.0.0/hook", "http://93.184.215.14/hook", "ftp://93.184.215.14/x",
           "https://user:pw@93.184.215.14/hook", "https://metadata.google.internal/x"]


def own_host_name() -> str | None:
    """This machine's name, when it resolves to non-public addresses only (as usual)."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 443)}
    except OSError:
        return None
    return name if addresses and not any(is_public(a) for a in addresses) else None


@pytest.mark.gen_test(timeout=30)
async def test_private_loopback_and_plain_http_urls_are_refused_on_create(api):
    token, _ = await api.owner()
    for url in REFUSED + ([f"https://{own_host_name()}/hook"] if own_host_name() else []):
        r = await api.post("/projects/acme/webhook-endpoints", {"url": url}, token=token)
        assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR", (url, r)
        assert r.error["details"][0]["field"] == "url"
        r = await api.post("/projects/acme/webhook-endpoints", {"url": "https://93.184.215.14/ok"}, token=token)
        assert r.status == 201
        r = await api.patch(f"/projects/acme/webhook-endpoints/{r.data['id']}", {"url": url}, token=token)
        assert r.status == 400, (url, r)
    listed = await api.get("/projects/acme/webhook-endpoints", token=token)
    assert {e["url"] for e in listed.data} == {"https://93.184.215.14/ok"}


@pytest.mark.env({"WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS": "true"})
@pytest.mark.gen_test(timeout=30)
async def test_the_setting_allows_loopback_and_http(api):
    token, _ = await api.owner()
    for url in ("http://127.0.0.1:9/hook", "https://localhost/hook", "https://10.1.2.3/hook"):
        r = await api.post("/projects/acme/webhook-endpoints", {"url": url}, token=token)
        assert r.status == 201, (url, r)


@pytest.mark.env({"WINDBACK_WEBHOOK_RETRY_SCALE": "0.001", "WINDBACK_SCHEDULER_POLL_SECONDS": "0.05"})
@pytest.mark.gen_test(timeout=30)
async def test_a_host_that_now_resolves_to_a_private_address_is_refused_at_delivery(api, ctx, receivers):
    """As if the name was public at create and its DNS later pointed at this machine."""
    name = own_host_name()
    if name is None:
        pytest.skip("this machine's name resolves to a public address")
    receiver = receivers()
    async with scheduling(ctx):
        token, project = await api.owner()
        port = receiver.server.server_address[1]
        with unit_of_work():
            create_endpoint(project["id"], {"url": f"https://{name}:{port}/hook"})
        await api.post("/projects/acme/churn-events", {"customer_email": "x@example.com"}, key=project["secret_key"])
        assert await until(lambda: deliveries() and deliveries()[0].attempts >= 2)
        delivery = deliveries()[0]
        assert delivery.last_status_code is None and "private or reserved address" in delivery.last_error
        assert receiver.received == []  # never connected


class RedirectAndBigAnswer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(1024 * 1024))
        self.end_headers()
        try:
            self.wfile.write(b"x" * 1024 * 1024)
        except OSError:
            pass  # the client stopped reading, as it should

    def log_message(self, *args):
        pass


@pytest.fixture
def redirecting_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RedirectAndBigAnswer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.env(OUTBOUND_ENV)
@pytest.mark.gen_test(timeout=30)
async def test_redirects_are_not_followed_and_a_big_answer_is_not_read(api, ctx, redirecting_server):
    base = redirecting_server
    async with scheduling(ctx):
        token, project = await api.owner()
        for path in ("/redirect", "/big"):
            r = await api.post("/projects/acme/webhook-endpoints", {"url": base + path}, token=token)
            assert r.status == 201
        await api.post("/projects/acme/churn-events", {"customer_email": "r@example.com"}, key=project["secret_key"])
        assert await until(lambda: len(deliveries()) == 2 and all(d.attempts >= 1 for d in deliveries()))
        by_url = {}
        for delivery in deliveries():
            with unit_of_work():
                by_url[delivery.endpoint.url[len(base):]] = delivery
        assert by_url["/redirect"].last_status_code == 302 and by_url["/redirect"].status == "pending"
        assert by_url["/redirect"].last_error == "answered 302"
        assert by_url["/big"].status == "succeeded" and by_url["/big"].last_status_code == 200
        assert "64 KiB" in by_url["/big"].last_response
