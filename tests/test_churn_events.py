"""Churn events: create, list (filters, sorts, pages), get, recovered, cancel reason, lost."""
import asyncio
import datetime as dt
import threading

import pytest

from handlers.errors import DomainError, http_status
from store import churn_events as store
from store.db import unit_of_work
from store.models import ChurnEvent
from tests.helpers import count

FIELDS = {"id", "customer_email", "customer_name", "customer_id", "plan", "mrr_cents", "currency",
          "cancel_reason", "cancel_reason_detail", "source", "status", "churned_at", "recovered_at",
          "recovered_mrr_cents", "recovered_by_variant_id", "saved", "metadata", "created_at", "updated_at"}


def iso_days_ago(days):
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def acme(api, io_loop):
    """(api, owner token, secret key) with a project `acme`."""
    token, project = io_loop.run_sync(api.owner)
    return token, project["secret_key"], project


@pytest.mark.gen_test
async def test_create_answers_201_with_the_whole_event(api, acme):
    _, key, _ = acme
    r = await api.post("/projects/acme/churn-events", {
        "customer_email": "Pat@Example.com", "customer_name": "Pat", "customer_id": "cus_1", "plan": "pro",
        "mrr_cents": 4900, "currency": "eur", "cancel_reason": "too_expensive",
        "cancel_reason_detail": "Budget cut", "metadata": {"seats": 3}}, key=key)
    assert r.status == 201, r
    event = r.data
    assert set(event) == FIELDS
    assert event["id"] and event["customer_email"] == "pat@example.com"
    assert (event["currency"], event["mrr_cents"], event["source"], event["status"]) == ("EUR", 4900, "api", "new")
    assert event["saved"] is False and event["metadata"] == {"seats": 3}
    assert event["recovered_at"] is None and event["churned_at"].endswith("Z") and event["created_at"].endswith("Z")
    minimal = await api.post("/projects/acme/churn-events", {"customer_email": "min@example.com"}, key=key)
    assert minimal.status == 201
    assert (minimal.data["mrr_cents"], minimal.data["currency"], minimal.data["metadata"]) == (0, "USD", {})


@pytest.mark.gen_test
async def test_a_second_churn_of_a_customer_updates_the_open_event(api, acme):
    _, key, _ = acme
    first = await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com", "mrr_cents": 100}, key=key)
    again = await api.post("/projects/acme/churn-events", {"customer_email": "A@example.com", "mrr_cents": 200,
                                                           "cancel_reason": "not_using"}, key=key)
    assert again.status == 200
    assert again.data["id"] == first.data["id"]
    assert (again.data["mrr_cents"], again.data["cancel_reason"]) == (200, "not_using")
    assert count(ChurnEvent) == 1
    # Once recovered, a new churn opens a new event.
    await api.post(f"/projects/acme/churn-events/{first.data['id']}/recovered", key=key)
    third = await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com"}, key=key)
    assert third.status == 201 and third.data["id"] != first.data["id"]


@pytest.mark.gen_test
async def test_history_can_be_imported_but_not_from_the_future(api, acme):
    _, key, _ = acme
    r = await api.post("/projects/acme/churn-events", {"customer_email": "old@example.com",
                                                        "churned_at": "2026-01-15T10:30:00+02:00"}, key=key)
    assert r.status == 201 and r.data["churned_at"] == "2026-01-15T08:30:00.000Z"
    r = await api.post("/projects/acme/churn-events", {"customer_email": "new@example.com",
                                                        "churned_at": "2999-01-01T00:00:00Z"}, key=key)
    assert r.status == 400 and r.error["details"][0]["field"] == "churned_at"


@pytest.mark.parametrize("body, field", [
    ({}, "customer_email"),
    ({"customer_email": None}, "customer_email"),
    ({"customer_email": "nope"}, "customer_email"),
    ({"customer_email": "a@example.com", "mrr_cents": "4900"}, "mrr_cents"),
    ({"customer_email": "a@example.com", "mrr_cents": 49.5}, "mrr_cents"),
    ({"customer_email": "a@example.com", "mrr_cents": -1}, "mrr_cents"),
    ({"customer_email": "a@example.com", "currency": "dollars"}, "currency"),
    ({"customer_email": "a@example.com", "cancel_reason": "too_pricey"}, "cancel_reason"),
    ({"customer_email": "a@example.com", "churned_at": "yesterday"}, "churned_at"),
    ({"customer_email": "a@example.com", "metadata": [1]}, "metadata"),
    ({"customer_email": "a@example.com", "metadata": {"blob": "x" * 17000}}, "metadata"),
    ({"customer_email": "a@example.com", "status": "recovered"}, "status"),
    ({"customer_email": "a@example.com", "source": "stripe"}, "source"),
])
@pytest.mark.gen_test
async def test_create_refuses_bad_input_and_stores_nothing(api, acme, body, field):
    _, key, _ = acme
    r = await api.post("/projects/acme/churn-events", body, key=key)
    assert r.status == 400, r
    assert r.error["code"] == "VALIDATION_ERROR"
    assert field in [d["field"] for d in r.error["details"]]
    assert count(ChurnEvent) == 0


@pytest.mark.gen_test
async def test_several_problems_are_all_reported(api, acme):
    _, key, _ = acme
    r = await api.post("/projects/acme/churn-events", {"mrr_cents": "x", "cancel_reason": "?"}, key=key)
    assert r.status == 400
    assert {d["field"] for d in r.error["details"]} == {"customer_email", "mrr_cents", "cancel_reason"}


@pytest.mark.parametrize("raw", [b"{\"customer_email\": ", b"[]", b"null", b"42"])
@pytest.mark.gen_test
async def test_create_refuses_malformed_or_non_object_json(api, acme, raw):
    _, key, _ = acme
    r = await api.post("/projects/acme/churn-events", raw=raw, key=key)
    assert r.status == 400 and r.error["details"][0]["field"] == "body"
    assert count(ChurnEvent) == 0


async def seed(api, key):
    rows = [
        {"customer_email": "c@example.com", "mrr_cents": 300, "cancel_reason": "too_expensive", "customer_id": "cus_c"},
        {"customer_email": "a@example.com", "mrr_cents": 100, "cancel_reason": "not_using"},
        {"customer_email": "b@example.com", "mrr_cents": 200, "cancel_reason": "too_expensive"},
    ]
    ids = []
    for row in rows:
        r = await api.post("/projects/acme/churn-events", row, key=key)
        ids.append(r.data["id"])
    return ids


@pytest.mark.gen_test
async def test_list_pages_filters_and_sorts(api, acme):
    _, key, _ = acme
    c, a, b = await seed(api, key)
    r = await api.get("/projects/acme/churn-events", key=key)
    assert r.status == 200 and r.json["meta"] == {"page": 1, "per_page": 20, "total": 3}
    assert [e["id"] for e in r.data] == [b, a, c]  # newest first
    r = await api.get("/projects/acme/churn-events?per_page=2&page=2", key=key)
    assert [e["id"] for e in r.data] == [c] and r.json["meta"]["total"] == 3
    r = await api.get("/projects/acme/churn-events?sort=mrr_cents&order=asc", key=key)
    assert [e["mrr_cents"] for e in r.data] == [100, 200, 300]
    r = await api.get("/projects/acme/churn-events?sort=customer_email&order=desc", key=key)
    assert [e["customer_email"] for e in r.data] == ["c@example.com", "b@example.com", "a@example.com"]
    r = await api.get("/projects/acme/churn-events?cancel_reason=too_expensive&sort=mrr_cents", key=key)
    assert [e["id"] for e in r.data] == [c, b] and r.json["meta"]["total"] == 2
    r = await api.get("/projects/acme/churn-events?customer_email=A@EXAMPLE.com", key=key)
    assert [e["id"] for e in r.data] == [a]
    r = await api.get("/projects/acme/churn-events?customer_id=cus_c", key=key)
    assert [e["id"] for e in r.data] == [c]
    r = await api.get("/projects/acme/churn-events?source=widget", key=key)
    assert r.data == [] and r.json["meta"]["total"] == 0
    await api.post(f"/projects/acme/churn-events/{a}/recovered", key=key)
    r = await api.get("/projects/acme/churn-events?status=recovered", key=key)
    assert [e["id"] for e in r.data] == [a]
    r = await api.get("/projects/acme/churn-events?status=new&sort=recovered_at", key=key)
    assert {e["id"] for e in r.data} == {b, c}
    r = await api.get("/projects/acme/churn-events?created_after=2000-01-01&created_before=2999-01-01T00:00:00Z", key=key)
    assert r.json["meta"]["total"] == 3
    r = await api.get("/projects/acme/churn-events?created_after=2999-01-01", key=key)
    assert r.json["meta"]["total"] == 0
    for sort in ("created_at", "updated_at", "churned_at", "recovered_at", "mrr_cents", "customer_email", "status"):
        assert (await api.get(f"/projects/acme/churn-events?sort={sort}&order=asc", key=key)).status == 200


@pytest.mark.parametrize("query, field", [
    ("per_page=101", "per_page"), ("per_page=0", "per_page"), ("page=0", "page"), ("page=-1", "page"),
    ("sort=customer_name", "sort"), ("sort=id;drop", "sort"), ("order=sideways", "order"),
    ("status=gone", "status"), ("source=email", "source"), ("cancel_reason=meh", "cancel_reason"),
    ("created_after=last-week", "created_after"), ("per_page=ten", "per_page"),
])
@pytest.mark.gen_test
async def test_list_refuses_bad_parameters(api, acme, query, field):
    _, key, _ = acme
    r = await api.get(f"/projects/acme/churn-events?{query}", key=key)
    assert r.status == 400 and r.error["code"] == "VALIDATION_ERROR"
    assert r.error["details"][0]["field"] == field


@pytest.mark.gen_test
async def test_get_one_and_unknown_ids(api, acme):
    token, key, _ = acme
    created = (await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com"}, key=key)).data
    r = await api.get(f"/projects/acme/churn-events/{created['id']}", token=token)
    assert r.status == 200 and r.data == created
    for bad in ("ce_000000000000000000000000", "nonsense", "%27%20OR%201%3D1"):
        r = await api.get(f"/projects/acme/churn-events/{bad}", key=key)
        assert r.status == 404 and r.error["code"] == "NOT_FOUND"
        r = await api.post(f"/projects/acme/churn-events/{bad}/recovered", key=key)
        assert r.status == 404


@pytest.mark.gen_test
async def test_another_projects_events_are_invisible(api, acme):
    _, key, _ = acme
    _, globex = await api.owner("globex")
    theirs = (await api.post("/projects/globex/churn-events", {"customer_email": "g@example.com"},
                             key=globex["secret_key"])).data
    for r in (await api.get(f"/projects/acme/churn-events/{theirs['id']}", key=key),
              await api.post(f"/projects/acme/churn-events/{theirs['id']}/recovered", key=key),
              await api.get("/projects/globex/churn-events", key=key),
              await api.post("/projects/globex/churn-events", {"customer_email": "x@example.com"}, key=key)):
        assert r.status == 404
    assert (await api.get("/projects/acme/churn-events", key=key)).data == []
    assert count(ChurnEvent) == 1
    with unit_of_work():
        assert ChurnEvent.get_by_id(theirs["id"]).status == "new"


@pytest.mark.gen_test
async def test_recovered_from_any_state_but_recovered_and_saved(api, acme):
    _, key, _ = acme
    event = (await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com", "mrr_cents": 4900}, key=key)).data
    r = await api.post(f"/projects/acme/churn-events/{event['id']}/recovered", key=key)
    assert r.status == 200
    assert (r.data["status"], r.data["recovered_mrr_cents"]) == ("recovered", 4900)
    assert r.data["recovered_at"].endswith("Z")
    again = await api.post(f"/projects/acme/churn-events/{event['id']}/recovered", key=key)
    assert again.status == 409 and again.error["code"] == "CONFLICT"

    other = (await api.post("/projects/acme/churn-events", {"customer_email": "b@example.com", "mrr_cents": 4900}, key=key)).data
    r = await api.post(f"/projects/acme/churn-events/{other['id']}/recovered", {"recovered_mrr_cents": 2500}, key=key)
    assert r.data["recovered_mrr_cents"] == 2500
    saved = (await api.post("/projects/acme/churn-events", {"customer_email": "s@example.com"}, key=key)).data
    with unit_of_work():  # as the cancel flow does when an offer is accepted
        ChurnEvent.update(status="saved", saved=True).where(ChurnEvent.id == saved["id"]).execute()
    r = await api.post(f"/projects/acme/churn-events/{saved['id']}/recovered", key=key)
    assert r.status == 409
    for body in ({"recovered_mrr_cents": "lots"}, {"recovered_mrr_cents": -5}, {"extra": 1}):
        r = await api.post(f"/projects/acme/churn-events/{saved['id']}/recovered", body, key=key)
        assert r.status == 400


@pytest.mark.gen_test
async def test_an_old_open_event_reads_as_lost_and_can_still_be_recovered(api, acme):
    token, key, _ = acme
    old = (await api.post("/projects/acme/churn-events", {"customer_email": "old@example.com",
                                                          "churned_at": iso_days_ago(91)}, key=key)).data
    fresh = (await api.post("/projects/acme/churn-events", {"customer_email": "new@example.com",
                                                            "churned_at": iso_days_ago(89)}, key=key)).data
    assert (old["status"], fresh["status"]) == ("lost", "new")
    r = await api.get("/projects/acme/churn-events?status=lost", key=key)
    assert [e["id"] for e in r.data] == [old["id"]]
    r = await api.get("/projects/acme/churn-events?status=new", key=key)
    assert [e["id"] for e in r.data] == [fresh["id"]]
    # The project's own lost_after_days decides.
    await api.patch("/projects/acme", {"settings": {"lost_after_days": 30}}, token=token)
    r = await api.get(f"/projects/acme/churn-events/{fresh['id']}", key=key)
    assert r.data["status"] == "lost"
    # The periodic sweep writes the status down.
    with unit_of_work():
        assert store.sweep_lost() == 2
        assert ChurnEvent.get_by_id(old["id"]).status == "lost"
    r = await api.post(f"/projects/acme/churn-events/{old['id']}/recovered", key=key)
    assert r.status == 200 and r.data["status"] == "recovered"


@pytest.mark.gen_test
async def test_cancel_reason_can_be_changed(api, acme):
    _, key, _ = acme
    event = (await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com"}, key=key)).data
    r = await api.patch(f"/projects/acme/churn-events/{event['id']}/cancel-reason",
                        {"cancel_reason": "switched_competitor", "cancel_reason_detail": "Went to Globex"}, key=key)
    assert r.status == 200
    assert (r.data["cancel_reason"], r.data["cancel_reason_detail"]) == ("switched_competitor", "Went to Globex")
    for body in ({"cancel_reason": "bored"}, {}, {"cancel_reason": 3}):
        bad = await api.patch(f"/projects/acme/churn-events/{event['id']}/cancel-reason", body, key=key)
        assert bad.status == 400 and bad.error["details"][0]["field"] == "cancel_reason"
    with unit_of_work():
        assert ChurnEvent.get_by_id(event["id"]).cancel_reason == "switched_competitor"


@pytest.mark.gen_test(timeout=60)
async def test_fifty_concurrent_recovered_calls_one_wins(api, acme):
    _, key, _ = acme
    event = (await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com"}, key=key)).data
    results = await asyncio.gather(*(api.post(f"/projects/acme/churn-events/{event['id']}/recovered", key=key)
                                     for _ in range(50)))
    statuses = sorted(r.status for r in results)
    assert statuses == [200] + [409] * 49
    assert all(r.error["code"] == "CONFLICT" for r in results if r.status == 409)


@pytest.mark.gen_test(timeout=120)
async def test_two_hundred_concurrent_creates_all_land(api, acme):
    _, key, _ = acme
    results = await asyncio.gather(*(api.post("/projects/acme/churn-events", {"customer_email": f"c{i}@example.com"}, key=key)
                                     for i in range(200)))
    assert [r.status for r in results] == [201] * 200
    assert len({r.data["id"] for r in results}) == 200
    assert count(ChurnEvent) == 200
    r = await api.get("/projects/acme/churn-events?per_page=100&page=2", key=key)
    assert r.json["meta"]["total"] == 200 and len(r.data) == 100


def test_the_database_guards_recovery_without_the_actor(ctx, api, io_loop):
    """Two processes (here: threads, each its own connection) racing past any actor: the
    conditional UPDATE lets exactly one through."""
    _, project = io_loop.run_sync(api.owner)
    with unit_of_work():
        event, _ = store.record_churn(project["id"], {"customer_email": "race@example.com", "source": "api"})
    outcomes = []
    barrier = threading.Barrier(8)

    def recover():
        barrier.wait()
        try:
            with unit_of_work():
                store.mark_recovered(project["id"], event.id, None)
            outcomes.append("ok")
        except DomainError as error:
            outcomes.append(http_status(error))

    threads = [threading.Thread(target=recover) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes, key=str) == [409] * 7 + ["ok"]


def test_the_database_keeps_one_open_event_per_customer(ctx, api, io_loop):
    _, project = io_loop.run_sync(api.owner)
    barrier = threading.Barrier(6)
    created = []

    def churn():
        barrier.wait()
        with unit_of_work():
            _, was_created = store.record_churn(project["id"], {"customer_email": "same@example.com", "source": "api"})
        created.append(was_created)

    threads = [threading.Thread(target=churn) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(created) == [False] * 5 + [True]
    assert count(ChurnEvent) == 1


@pytest.mark.gen_test
async def test_the_list_and_the_event_show_the_same_timestamps(api, acme):
    """The list reads plain rows (text on SQLite) and the single event a model: both write every
    timestamp the same way, to the millisecond, whatever the stored precision."""
    _, key, _ = acme
    for churned_at, shown in (("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.000Z"),
                              ("2026-01-02T03:04:05.1Z", "2026-01-02T03:04:05.100Z"),
                              ("2026-01-02T03:04:05.123456Z", "2026-01-02T03:04:05.123Z")):
        created = await api.post("/projects/acme/churn-events",
                                 {"customer_email": f"t{len(churned_at)}@example.com", "churned_at": churned_at}, key=key)
        assert created.status == 201, created
        recovered = await api.post(f"/projects/acme/churn-events/{created.data['id']}/recovered", key=key)
        one = (await api.get(f"/projects/acme/churn-events/{created.data['id']}", key=key)).data
        listed = (await api.get(f"/projects/acme/churn-events?customer_email={one['customer_email']}", key=key)).data
        assert listed == [one] == [recovered.data]
        assert one["churned_at"] == shown
