"""`POST /track`: single events and batches, all-or-nothing validation, the secret key, the plan's
limit, and durability: no event that got its 202 is lost when the server is killed."""
import http.client
import json
import secrets
import threading
import time

import pytest

from store.db import unit_of_work
from store.models import Project
from store.tracking import TrackedEvent
from tests.conftest import table_count
from tests.livehttp import call


@pytest.fixture
def strict_limits(test_env):
    test_env["WINDBACK_RATE_LIMIT_SCALE"] = "1"


def stored(project_id=None):
    with unit_of_work():
        query = TrackedEvent.select().order_by(TrackedEvent.id)
        if project_id:
            query = query.where(TrackedEvent.project == project_id)
        return [(e.event, e.customer_id, e.customer_email, json.loads(e.properties), e.occurred_at) for e in query]


@pytest.mark.gen_test
async def test_single_event_is_stored_before_202(api):
    _, project = await api.owner()
    r = await api.post("/track", {"event": "login", "customer_email": "Dana@Example.com",
                                  "properties": {"plan": "pro", "seats": 3},
                                  "timestamp": "2026-03-01T10:00:00Z"}, key=project["secret_key"])
    assert r.status == 202, r
    assert r.data == {"accepted": 1}
    rows = stored(project["id"])
    assert len(rows) == 1
    event, customer_id, email, properties, occurred_at = rows[0]
    assert (event, customer_id, email, properties) == ("login", None, "dana@example.com", {"plan": "pro", "seats": 3})
    assert occurred_at.isoformat() == "2026-03-01T10:00:00"


@pytest.mark.gen_test
async def test_batch_is_stored_whole(api):
    _, project = await api.owner()
    events = [{"event": "page_view", "customer_id": f"cus_{n}", "properties": {"n": n}} for n in range(500)]
    r = await api.post("/track", {"events": events}, key=project["secret_key"])
    assert r.status == 202, r
    assert r.data == {"accepted": 500}
    rows = stored(project["id"])
    assert sorted(row[3]["n"] for row in rows) == list(range(500))
    assert {row[1] for row in rows} == {f"cus_{n}" for n in range(500)}


@pytest.mark.gen_test
async def test_a_batch_with_bad_items_stores_nothing_and_names_them(api):
    _, project = await api.owner()
    events = [{"event": "login", "customer_id": "cus_1"} for _ in range(6)]
    events[1] = {"customer_id": "cus_1"}  # no event name
    events[3] = {"event": "login"}  # no customer
    events[4] = {"event": "login", "customer_email": "nope", "properties": [1], "timestamp": "yesterday"}
    r = await api.post("/track", {"events": events}, key=project["secret_key"])
    assert r.status == 400, r
    assert r.error["code"] == "VALIDATION_ERROR"
    fields = {d["field"] for d in r.error["details"]}
    assert fields == {"events[1].event", "events[3].customer_id", "events[4].customer_email",
                      "events[4].properties", "events[4].timestamp"}, fields
    assert table_count(TrackedEvent) == 0

    too_many = {"events": [{"event": "x", "customer_id": "c"}] * 501}
    for body, field in ((too_many, "events"), ({"events": []}, "events"), ({"events": "x"}, "events"),
                        ({"event": "x"}, "customer_id"), ({"event": "", "customer_id": "c"}, "event"),
                        ({"event": "x", "customer_id": "c", "extra": 1}, "extra")):
        r = await api.post("/track", body, key=project["secret_key"])
        assert r.status == 400 and field in {d["field"] for d in r.error["details"]}, (body, r)
    r = await api.post("/track", raw=b"[1, 2]", key=project["secret_key"])
    assert r.status == 400
    assert table_count(TrackedEvent) == 0


@pytest.mark.gen_test
async def test_the_secret_key_is_required(api):
    token, project = await api.owner()
    body = {"event": "login", "customer_id": "cus_1"}
    assert (await api.post("/track", body)).status == 401
    assert (await api.post("/track", body, key=project["public_key"])).status == 401
    assert (await api.post("/track", body, key="sk_live_" + secrets.token_urlsafe(32))).status == 401
    r = await api.post("/track", body, token=token)
    assert r.status == 403, r
    assert table_count(TrackedEvent) == 0


@pytest.mark.gen_test
async def test_events_go_to_the_keys_own_project(api):
    _, first = await api.owner("first")
    _, second = await api.owner("second")
    await api.post("/track", {"event": "a", "customer_id": "1"}, key=first["secret_key"])
    await api.post("/track", {"events": [{"event": "b", "customer_id": "1"}] * 2}, key=second["secret_key"])
    assert [row[0] for row in stored(first["id"])] == ["a"]
    assert [row[0] for row in stored(second["id"])] == ["b", "b"]


@pytest.mark.gen_test
async def test_plan_limit_counts_requests_not_events(strict_limits, api):
    _, project = await api.owner()
    key = project["secret_key"]
    batch = {"events": [{"event": "x", "customer_id": "c"}] * 500}
    r = await api.post("/track", batch, key=key)
    assert r.status == 202 and r.headers["X-RateLimit-Limit"] == "50"  # free plan: 20/s, burst 50
    assert int(r.headers["X-RateLimit-Remaining"]) >= 48  # a batch of 500 cost one token
    # Bad bodies still spend a token (the limit comes before validation) and store nothing, so
    # the bucket empties fast: 49 more requests pass, then 429.
    passed = 0
    for _ in range(400):
        r = await api.post("/track", {"event": ""}, key=key)
        if r.status == 429:
            break
        passed += 1
    assert r.status == 429 and r.error["code"] == "RATE_LIMITED" and "Retry-After" in r.headers
    assert passed >= 49
    # The scale plan has a bucket of 5000.
    with unit_of_work():
        Project.update(plan="scale").where(Project.id == project["id"]).execute()
    _, other = await api.owner("other")
    with unit_of_work():
        Project.update(plan="scale").where(Project.id == other["id"]).execute()
    r = await api.post("/track", {"event": "x", "customer_id": "c"}, key=other["secret_key"])
    assert r.status == 202 and r.headers["X-RateLimit-Limit"] == "5000"


# --- durability: kill -9 during a load --------------------------------------------------------

@pytest.mark.slow
def test_kill_9_during_load_loses_no_acknowledged_event(live_server):
    server = live_server()
    status, body = call(server.url, "POST", "/auth/register",
                        {"email": "ops@example.com", "password": "correct horse"})
    assert status == 201, body
    token = body["data"]["token"]
    status, body = call(server.url, "POST", "/projects", {"name": "Load"}, token=token)
    assert status == 201, body
    key, project_id = body["data"]["secret_key"], body["data"]["id"]

    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(worker: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        n = 0
        while not stop.is_set():
            ids = [f"w{worker}-{n}-{i}" for i in range(5)]
            n += 1
            payload = {"events": [{"event": "load", "customer_id": i} for i in ids]} if n % 2 else \
                {"event": "load", "customer_id": ids[0]}
            sent = ids if n % 2 else ids[:1]
            try:
                conn.request("POST", "/api/v1/track", body=json.dumps(payload),
                             headers={"Content-Type": "application/json", "X-API-Key": key})
                response = conn.getresponse()
                response.read()
            except (OSError, http.client.HTTPException):
                return  # the server is gone
            if response.status == 202:
                with lock:
                    acknowledged.extend(sent)

    threads = [threading.Thread(target=client, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # until the load is well under way
        with lock:
            if len(acknowledged) >= 600:
                break
        time.sleep(0.01)
    server.kill()
    stop.set()
    for thread in threads:
        thread.join(15)
    assert len(acknowledged) >= 600  # the kill came during the load, not before it

    restarted = live_server()  # starts cleanly on the crashed database
    status, _ = call(restarted.url, "POST", "/track", {"event": "after", "customer_id": "x"}, key=key)
    assert status == 202
    with unit_of_work():
        kept = {row.customer_id for row in TrackedEvent.select(TrackedEvent.customer_id)
                .where((TrackedEvent.project == project_id) & (TrackedEvent.event == "load"))}
    missing = [i for i in acknowledged if i not in kept]
    assert missing == [], f"{len(missing)} acknowledged events lost, e.g. {missing[:5]}"
