"""Rate limits of docs/api.md at their real size (WINDBACK_RATE_LIMIT_SCALE=1)."""
import asyncio
import time

import pytest

SCALE_1 = pytest.mark.env({"WINDBACK_RATE_LIMIT_SCALE": "1"})


@SCALE_1
@pytest.mark.gen_test(timeout=30)
async def test_general_group_allows_a_burst_of_30_per_key_then_429(api):
    _, project = await api.owner()
    key = project["secret_key"]
    remaining = []
    for _ in range(3):
        r = await api.get("/projects/acme/churn-events", key=key)
        assert r.status == 200 and r.headers["X-RateLimit-Limit"] == "30"
        assert int(r.headers["X-RateLimit-Reset"]) >= int(time.time())
        remaining.append(int(r.headers["X-RateLimit-Remaining"]))
    assert remaining == [29, 28, 27]
    # 60 at once, then more until it refuses: the bucket (27 left, refilling 10/s) runs dry. (A
    # slow machine may need more than 60, since the bucket refills while they are served.)
    started, results = time.monotonic(), []
    while len(results) < 600 and not any(r.status == 429 for r in results):
        results += await asyncio.gather(*(api.get("/projects/acme/churn-events", key=key) for _ in range(60)))
    statuses = [r.status for r in results]
    assert 27 <= statuses.count(200) <= 27 + 10 * (time.monotonic() - started) + 1
    assert set(statuses) == {200, 429}
    for r in results:
        assert "X-RateLimit-Limit" in r.headers and "X-RateLimit-Remaining" in r.headers
        if r.status == 429:
            assert r.error["code"] == "RATE_LIMITED" and int(r.headers["Retry-After"]) >= 1
            assert r.headers["X-RateLimit-Remaining"] == "0"
    # Another credential has a bucket of its own.
    token = await api.signup()
    r = await api.get("/projects", token=token)
    assert r.status == 200 and r.headers["X-RateLimit-Remaining"] == "29"


@SCALE_1
@pytest.mark.gen_test(timeout=30)
async def test_auth_group_is_per_client_ip_burst_10(api):
    started, results = time.monotonic(), []
    while len(results) < 250 and not any(r.status == 429 for r in results):
        results += await asyncio.gather(*(api.post("/auth/login", {"email": f"u{i}@example.com"}) for i in range(25)))
    statuses = [r.status for r in results]
    # Invalid input still spends: 10 at once, then 5 a second.
    assert 10 <= statuses.count(400) <= 10 + 5 * (time.monotonic() - started) + 1 and set(statuses) == {400, 429}
    assert all(r.headers["X-RateLimit-Limit"] == "10" for r in results)
    r = await api.post("/auth/register", {"email": "new@example.com", "password": "correct horse"})
    assert spent(r) and (r.status != 429 or "Retry-After" in r.headers)


async def exhaust_auth_bucket(api, forwarded_for):
    """Spend the client's auth bucket (burst 10, 5/s) until it refuses."""
    results = []
    while len(results) < 250 and not any(r.status == 429 for r in results):
        results += await asyncio.gather(*(api.post("/auth/login", {}, headers={"X-Forwarded-For": forwarded_for})
                                          for _ in range(25)))


def spent(r) -> bool:
    """The answer came from a spent bucket: refused, or let through on a token that refilled
    since (a fresh bucket would show 9 of 10 left)."""
    return r.status == 429 or int(r.headers["X-RateLimit-Remaining"]) <= 2


@SCALE_1
@pytest.mark.gen_test(timeout=30)
async def test_failed_credentials_spend_the_client_ip_bucket(api):
    results = await asyncio.gather(*(api.get("/projects/acme", key=f"sk_live_guess{i:040d}") for i in range(60)))
    assert {r.status for r in results} == {401, 429}
    assert all("X-RateLimit-Remaining" in r.headers for r in results)


@pytest.mark.env({"WINDBACK_RATE_LIMIT_SCALE": "1", "WINDBACK_TRUSTED_PROXIES": "127.0.0.1"})
@pytest.mark.gen_test(timeout=30)
async def test_a_trusted_proxy_names_the_client(api):
    await exhaust_auth_bucket(api, "203.0.113.5")
    r = await api.post("/auth/login", {}, headers={"X-Forwarded-For": "203.0.113.5"})
    assert spent(r)
    r = await api.post("/auth/login", {}, headers={"X-Forwarded-For": "203.0.113.6"})
    assert r.status == 400 and r.headers["X-RateLimit-Remaining"] == "9"


@SCALE_1
@pytest.mark.gen_test(timeout=30)
async def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(api):
    await exhaust_auth_bucket(api, "203.0.113.9")
    r = await api.post("/auth/login", {}, headers={"X-Forwarded-For": "198.51.100.1"})
    assert spent(r)


@pytest.mark.env({"WINDBACK_RATE_LIMIT_SCALE": "0"})
@pytest.mark.gen_test
async def test_scale_zero_turns_limiting_off(api):
    for _ in range(15):
        r = await api.post("/auth/login", {})
        assert r.status == 400 and "X-RateLimit-Limit" not in r.headers


@pytest.mark.env({"WINDBACK_RATE_LIMIT_SCALE": "0.1"})
@pytest.mark.gen_test
async def test_scale_multiplies_every_limit(api):
    r = await api.post("/auth/login", {})
    assert r.headers["X-RateLimit-Limit"] == "1"
    r = await api.post("/auth/login", {})
    assert r.status == 429
