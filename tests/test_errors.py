"""The envelope everywhere: unknown routes, 405, 413, request ids, the log line, HTTPS."""
import json
import logging

import pytest

from store.models import ChurnEvent
from tests.helpers import count

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def assert_envelope(r, status, code):
    assert r.status == status, r
    assert r.headers["Content-Type"].startswith("application/json")
    assert set(r.json) == {"error"}
    assert set(r.error) == {"code", "message", "details"}
    assert r.error["code"] == code and r.error["message"]
    for name in RATE_HEADERS:
        assert name in r.headers, name


@pytest.mark.gen_test
async def test_unknown_routes_answer_the_404_envelope(api):
    # Paths under /api/v1 except /health... and /widget..., which the client sends to the root.
    for method, path in (("GET", "/nope"), ("POST", "/nope"), ("DELETE", "/projects/acme/x/y/z"),
                         ("GET", "/widget-nope.js"), ("PATCH", "/health/deep")):
        r = await api.request(method, path, body={} if method in ("POST", "PATCH") else None)
        assert_envelope(r, 404, "NOT_FOUND")


@pytest.mark.gen_test
async def test_a_method_a_route_does_not_have_answers_405(api):
    token = await api.signup()
    for method, path in (("DELETE", "/projects"), ("PUT", "/auth/me"), ("GET", "/auth/login"),
                         ("PATCH", "/health")):
        r = await api.request(method, path, token=token, body={} if method in ("PUT", "PATCH") else None)
        assert_envelope(r, 405, "METHOD_NOT_ALLOWED")
    r = await api.request("DELETE", "/projects", token=token)
    assert set(r.headers["Allow"].split(", ")) == {"GET", "POST"}


@pytest.mark.gen_test
async def test_a_body_over_one_mebibyte_answers_413_and_stores_nothing(api):
    _, project = await api.owner()
    key = project["secret_key"]
    big = json.dumps({"customer_email": "a@example.com", "metadata": {"x": "y" * (1024 * 1024)}})
    r = await api.post("/projects/acme/churn-events", raw=big.encode(), key=key)
    assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")
    r = await api.post("/auth/register", raw=b"{" + b" " * (2 * 1024 * 1024) + b"}")
    assert_envelope(r, 413, "PAYLOAD_TOO_LARGE")
    assert count(ChurnEvent) == 0
    # Just under the limit is parsed (and refused for its content, not its size).
    near = json.dumps({"customer_email": "a@example.com", "metadata": {"x": "y" * (1024 * 1000)}})
    r = await api.post("/projects/acme/churn-events", raw=near.encode(), key=key)
    assert r.status == 400 and r.error["details"][0]["field"] == "metadata"


@pytest.mark.gen_test
async def test_request_ids_are_echoed_or_generated(api):
    r = await api.get("/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123"
    r = await api.get("/api-nope", headers={"X-Request-Id": "err-7"})
    assert r.status == 404 and r.headers["X-Request-Id"] == "err-7"
    a, b = await api.get("/health"), await api.get("/health")
    assert a.headers["X-Request-Id"] and a.headers["X-Request-Id"] != b.headers["X-Request-Id"]
    r = await api.get("/health", headers={"X-Request-Id": "bad id with spaces\u00e9"})
    assert r.headers["X-Request-Id"] != "bad id with spaces\u00e9"


@pytest.mark.gen_test
async def test_one_json_log_line_per_request_with_keys_masked(api, caplog):
    _, project = await api.owner()
    caplog.set_level(logging.INFO, logger="windback.request")
    caplog.clear()
    public_key = project["public_key"]
    await api.get(f"/cancel-flow/config/{public_key}?token=secret-token", headers={"X-Request-Id": "log-1"})
    await api.get("/projects/acme", key=project["secret_key"], headers={"X-Request-Id": "log-2"})
    lines = [json.loads(record.getMessage()) for record in caplog.records if record.name == "windback.request"]
    assert [line["request_id"] for line in lines] == ["log-1", "log-2"]
    first, second = lines
    assert {"method", "path", "status", "ms", "request_id"} <= set(first)
    assert first["method"] == "GET" and first["status"] == 200 and isinstance(first["ms"], float)
    assert public_key not in first["path"] and "pub_live_****" in first["path"]
    assert "secret-token" not in first["path"]
    assert second["status"] == 200
    assert project["secret_key"] not in caplog.text and public_key not in caplog.text


@pytest.mark.env({"WINDBACK_REQUIRE_HTTPS": "true", "WINDBACK_TRUSTED_PROXIES": "10.9.8.7"})
@pytest.mark.gen_test
async def test_require_https_refuses_plain_http_unless_a_trusted_proxy_says_https(api):
    r = await api.post("/auth/register", {"email": "a@example.com", "password": "correct horse"})
    assert_envelope(r, 403, "FORBIDDEN")
    assert "HTTPS" in r.error["message"]
    # The test client is 127.0.0.1, which is not a trusted proxy: its header is not believed.
    r = await api.post("/auth/register", {"email": "a@example.com", "password": "correct horse"},
                       headers={"X-Forwarded-Proto": "https"})
    assert r.status == 403
    r = await api.get("/nope")
    assert r.status == 403
    r = await api.get("/health")  # load balancers probe over plain HTTP
    assert r.status == 200


@pytest.mark.env({"WINDBACK_REQUIRE_HTTPS": "true", "WINDBACK_TRUSTED_PROXIES": "127.0.0.1"})
@pytest.mark.gen_test
async def test_require_https_believes_a_trusted_proxy(api):
    r = await api.post("/auth/register", {"email": "a@example.com", "password": "correct horse"},
                       headers={"X-Forwarded-Proto": "https"})
    assert r.status == 201
    r = await api.post("/auth/register", {"email": "b@example.com", "password": "correct horse"},
                       headers={"X-Forwarded-Proto": "http"})
    assert r.status == 403
