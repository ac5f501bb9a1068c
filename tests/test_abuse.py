"""Bad input at scale: oversized, deeply nested, invalid UTF-8 and NUL-laden bodies; 10,000
distinct API keys and client addresses; and clients that open a connection and then say nothing.

What NUL does: in any string of a body, declared fields and the free-form `metadata` and
`properties` objects alike, a NUL character is refused with 400 (docs/api.md, "Input rules");
what is accepted is read back as sent.
"""
from __future__ import annotations

import asyncio
import json
import socket
import urllib.request

import pytest

from handlers.cancel_flow import config_cache
from services.ratelimit import RateLimiter
from store.db import unit_of_work
from store.tracking import TrackedEvent
from tests.livehttp import call, owner_with_project

MIB = 1024 * 1024
EVENTS = "/projects/acme/churn-events"


@pytest.fixture
def test_env(test_env):
    # Requests below come "through" a proxy on loopback, so each can have its own client address.
    return {**test_env, "WINDBACK_TRUSTED_PROXIES": "127.0.0.1"}


def json_of_size(size: int) -> bytes:
    """A valid churn-event body of exactly `size` bytes (the padding is in metadata)."""
    head, tail = b'{"customer_email": "a@b.co", "metadata": {"pad": "', b'"}}'
    body = head + b"x" * (size - len(head) - len(tail)) + tail
    assert len(body) == size and json.loads(body)
    return body


def assert_error(response, status: int, code: str) -> None:
    assert response.status == status, response
    assert response.headers["Content-Type"].startswith("application/json")
    assert set(response.json) == {"error"} and response.error["code"] == code
    assert isinstance(response.error["message"], str) and isinstance(response.error["details"], list)


@pytest.mark.gen_test(timeout=60)
async def test_body_one_byte_over_one_mib_is_refused_with_the_413_envelope(api):
    token, project = await api.owner()
    over = json_of_size(MIB + 1)
    assert_error(await api.post(EVENTS, raw=over, key=project["secret_key"]), 413, "PAYLOAD_TOO_LARGE")
    # Refused before authentication too, and nothing was stored.
    assert_error(await api.post("/auth/register", raw=b" " * (MIB + 1)), 413, "PAYLOAD_TOO_LARGE")
    exactly = json_of_size(MIB)
    at_limit = await api.post(EVENTS, raw=exactly, key=project["secret_key"])
    assert_error(at_limit, 400, "VALIDATION_ERROR")  # read and validated: metadata is over 16 KiB
    listed = await api.get(EVENTS, key=project["secret_key"])
    assert listed.json["meta"]["total"] == 0


@pytest.mark.gen_test(timeout=60)
async def test_deeply_nested_json_is_a_400_not_a_crash(api):
    token, project = await api.owner()
    key = project["secret_key"]
    for deep in (b"[" * 100_000 + b"]" * 100_000,
                 b'{"customer_email": "a@b.co", "metadata": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001):
        assert_error(await api.post(EVENTS, raw=deep, key=key), 400, "VALIDATION_ERROR")
    # Nesting the parser accepts is stored and read back as sent.
    nested = {"customer_email": "deep@b.co", "metadata": {}}
    inner = nested["metadata"]
    for _ in range(200):
        inner["a"] = {}
        inner = inner["a"]
    created = await api.post(EVENTS, nested, key=key)
    assert created.status == 201, created
    fetched = await api.get(f"{EVENTS}/{created.data['id']}", key=key)
    assert fetched.data["metadata"] == nested["metadata"]
    assert (await api.get("/health")).status == 200


@pytest.mark.gen_test(timeout=60)
async def test_invalid_utf8_is_a_400(api):
    token, project = await api.owner()
    for raw in (b'{"customer_email": "\xff\xfe@b.co"}', b'{"customer_email": "a@b.co", "plan": "\xc3\x28"}',
                b"\x80" * 100):
        response = await api.post(EVENTS, raw=raw, key=project["secret_key"])
        assert_error(response, 400, "VALIDATION_ERROR")
        assert response.error["details"][0]["field"] == "body"
    assert_error(await api.post("/auth/login", raw=b'{"email": "\xff", "password": "x"}'), 400, "VALIDATION_ERROR")
    assert (await api.get(EVENTS, key=project["secret_key"])).json["meta"]["total"] == 0


@pytest.mark.gen_test(timeout=60)
async def test_nul_is_refused_in_fields_and_in_metadata(api):
    token, project = await api.owner()
    key = project["secret_key"]
    for body, field in (({"customer_email": "a\u0000@b.co"}, "customer_email"),
                        ({"customer_email": "a@b.co", "customer_name": "Ada\u0000"}, "customer_name"),
                        ({"customer_email": "a@b.co", "plan": "\u0000"}, "plan")):
        response = await api.post(EVENTS, body, key=key)
        assert_error(response, 400, "VALIDATION_ERROR")
        assert response.error["details"][0]["field"] == field
    response = await api.post("/auth/register", {"email": "n@b.co", "password": "pass\u0000word!", "name": "N"})
    assert_error(response, 400, "VALIDATION_ERROR")
    assert (await api.get(EVENTS, key=key)).json["meta"]["total"] == 0

    for metadata, field in (({"note": "before\u0000after"}, "metadata.note"), ({"key\u0000with nul": 1}, "metadata"),
                            ({"list": ["ok", "\u0000"]}, "metadata.list[1]")):
        refused = await api.post(EVENTS, {"customer_email": "a@b.co", "metadata": metadata}, key=key)
        assert_error(refused, 400, "VALIDATION_ERROR")
        assert refused.error["details"][0]["field"] == field
        refused = await api.post("/track", {"event": "nul", "customer_id": "c1", "properties": metadata}, key=key)
        assert_error(refused, 400, "VALIDATION_ERROR")
    metadata = {"note": "tabs\tand\nnewlines are kept", "nested": {"list": ["x", 1, None]}}
    created = await api.post(EVENTS, {"customer_email": "a@b.co", "metadata": metadata}, key=key)
    assert created.status == 201, created
    fetched = await api.get(f"{EVENTS}/{created.data['id']}", key=key)
    assert fetched.data["metadata"] == metadata

    tracked = await api.post("/track", {"event": "nul", "customer_id": "c1", "properties": metadata}, key=key)
    assert tracked.status == 202, tracked
    assert_error(await api.post("/track", {"event": "n\u0000l", "customer_id": "c1"}, key=key), 400, "VALIDATION_ERROR")
    with unit_of_work():
        stored = [json.loads(row.properties) for row in TrackedEvent.select()]
    assert stored == [metadata]


async def _hammer(port: int, requests: list[bytes], connections: int = 8) -> list[int]:
    """Send raw HTTP/1.1 requests over a few keep-alive connections; the status of each."""
    statuses: list[int] = []

    async def worker(batch: list[bytes]):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for request in batch:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            statuses.append(int(lines[0].split()[1]))
            length = next((int(line.split(":", 1)[1]) for line in lines
                           if line.lower().startswith("content-length:")), 0)
            await reader.readexactly(length)
        writer.close()

    await asyncio.gather(*(worker(requests[i::connections]) for i in range(connections)))
    return statuses


@pytest.mark.gen_test(timeout=120)
async def test_ten_thousand_distinct_keys_and_addresses_keep_the_caches_bounded(api, ctx, http_port):
    token, project = await api.owner()
    assert ctx.limiter.max_keys and ctx.keys.maxsize  # the real objects are bounded
    # The same limiter class with a capacity below the number of keys, so the bound is reached.
    ctx.limiter = RateLimiter(ctx.settings.rate_limit_scale, max_keys=1_000)
    requests = []
    for i in range(10_000):
        address = f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"
        if i % 2:  # a guessed secret key
            requests.append(f"GET /api/v1{EVENTS} HTTP/1.1\r\nHost: t\r\nX-API-Key: sk_live_guess{i:06d}aaaaaaaaaaaa"
                            f"aaaaaaaaaaaa\r\nX-Forwarded-For: {address}\r\n\r\n".encode())
        else:  # a guessed public key, where the widget fetches its config
            requests.append(f"GET /api/v1/cancel-flow/config/pub_live_guess{i:06d} HTTP/1.1\r\nHost: t\r\n"
                            f"X-Forwarded-For: {address}\r\n\r\n".encode())
    statuses = await _hammer(http_port, requests)
    assert statuses.count(401) == 5_000 and statuses.count(404) == 5_000
    assert len(ctx.limiter) == 1_000, "one bucket per client address or key, capped"
    assert len(ctx.keys) == 0, "wrong keys are never cached"
    assert len(config_cache(ctx)) == 0, "unknown public keys are never cached"
    # The real key still works, from a fresh address and from one whose bucket was evicted.
    for address in ("10.9.9.9", "10.0.0.1"):
        response = await api.get(EVENTS, key=project["secret_key"], headers={"X-Forwarded-For": address})
        assert response.status == 200, response
    assert len(ctx.keys) == 1 and len(ctx.limiter) == 1_000
    config = await api.get(f"/cancel-flow/config/{project['public_key']}")
    assert config.status == 200 and len(config_cache(ctx)) == 1


@pytest.fixture
def http_port(http_server):
    return next(iter(http_server._sockets.values())).getsockname()[1]


def test_two_hundred_silent_connections_do_not_stop_other_requests(live_server):
    server = live_server()
    token, project = owner_with_project(server.url)
    silent = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            if i % 2:  # headers promising a body that never comes
                sock.sendall(b"POST /api/v1/auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000\r\n\r\n{")
            else:  # half a request line and headers, never finished
                sock.sendall(b"GET /api/v1/auth/me HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            silent.append(sock)
        with urllib.request.urlopen(server.url + "/health", timeout=10) as response:
            assert json.load(response)["data"]["status"] == "ok"
        status, body = call(server.url, "POST", f"/projects/{project['slug']}/churn-events",
                            {"customer_email": "still@served.co"}, key=project["secret_key"], timeout=10)
        assert status == 201, body
        status, body = call(server.url, "GET", "/auth/me", token=token, timeout=10)
        assert status == 200 and body["data"]["projects"][0]["slug"] == "acme"
    finally:
        for sock in silent:
            sock.close()
