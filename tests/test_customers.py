"""Customers and churn risk, over HTTP: scores and reasons against a hand computation, tenancy,
the timeline, settings.risk, and the ranking on a synthetic set (docs/customers.md)."""
import datetime as dt
import math
import urllib.parse

import pytest

from scripts.synthetic_customers import generate


def noon(days_ago: int) -> dt.datetime:
    today = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None).date()
    return dt.datetime.combine(today - dt.timedelta(days=days_ago), dt.time(12))


def stamp(at: dt.datetime) -> str:
    return at.isoformat() + "Z"


def sigmoid_score(z: float) -> int:
    return round(100 / (1 + math.exp(-z)))


async def track(api, key, events):
    for start in range(0, len(events), 500):
        r = await api.post("/track", {"events": events[start:start + 500]}, key=key)
        assert r.status == 202, r


def days_since(at: dt.datetime) -> int:
    return (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - at).days


def known_set():
    """Three customers whose scores are worked out by hand below."""
    events = []
    # Fading: a login a day 14-41 days ago (28 in the prior window), then two cancel-page visits 10 days ago.
    events += [{"event": "login", "customer_id": "cus_fading", "timestamp": stamp(noon(d))} for d in range(14, 42)]
    events += [{"event": "cancel_page_viewed", "customer_id": "cus_fading", "timestamp": stamp(noon(10))}] * 2
    # Steady: a login a day for 41 days (13 recent, 28 prior).
    events += [{"event": "login", "customer_id": "cus_steady", "timestamp": stamp(noon(d))} for d in range(1, 42)]
    # Dana: five exports in the last five days, and (below) a churn event: an earlier churn.
    events += [{"event": "export_used", "customer_email": "Dana@Example.com", "timestamp": stamp(noon(d))}
               for d in range(1, 6)]
    return events


@pytest.mark.gen_test
async def test_levels_and_reasons_match_a_hand_computation(api):
    token, project = await api.owner()
    await track(api, project["secret_key"], known_set())
    r = await api.post(f"/projects/{project['slug']}/churn-events",
                       {"customer_email": "dana@example.com", "customer_name": "Dana Scully", "mrr_cents": 4900},
                       token=token)
    assert r.status == 201, r

    r = await api.get(f"/projects/{project['slug']}/customers", token=token)
    assert r.status == 200, r
    assert r.json["meta"]["total"] == 3
    by_key = {c["key"]: c for c in r.data}
    assert [c["key"] for c in r.data] == ["cus_fading", "dana@example.com", "cus_steady"]  # risk first

    # Fading: drop = 1 - (2/14)/(28/28) = 0.857; watch = 2/3; inactivity = days/30.
    fading = by_key["cus_fading"]
    days = days_since(noon(10))
    drop, watch, idle = 1 - (2 / 14) / (28 / 28), 2 / 3, days / 30
    assert fading["risk"]["score"] == sigmoid_score(-3 + 3 * drop + 2.5 * idle + 2 * watch)
    assert fading["risk"]["level"] == "high" and fading["status"] == "at_risk"
    assert (fading["events_last_14d"], fading["events_prior_28d"]) == (2, 28)
    assert [(x["code"], x["weight"]) for x in fading["risk"]["reasons"]] == [
        ("activity_drop", round(3 * drop, 2)), ("watch_pages", round(2 * watch, 2)), ("inactivity", round(2.5 * idle, 2))]
    assert fading["risk"]["reasons"][0]["text"] == "Activity fell 86%: 2 events in the last 14 days, 28 in the 28 days before"
    assert fading["risk"]["reasons"][1]["text"] == "Visited cancel or billing pages 2 times in the last 14 days"

    # Steady: drop = 1 - 13/14 = 0.071 (weight 0.21 < 0.25: no reason), inactivity <= 1/30.
    steady = by_key["cus_steady"]
    idle = days_since(noon(1)) / 30
    assert steady["risk"]["score"] == sigmoid_score(-3 + 3 * (1 - 13 / 14) + 2.5 * idle)
    assert steady["risk"]["level"] == "low" and steady["risk"]["reasons"] == [] and steady["status"] == "active"

    # Dana: no drop (no earlier activity), churned once: z = -3 + 2.5 * idle + 1.
    dana = by_key["dana@example.com"]
    assert dana["risk"]["score"] == sigmoid_score(-3 + 2.5 * days_since(noon(1)) / 30 + 1)
    assert dana["risk"]["level"] == "low" and dana["status"] == "churned"
    assert dana["risk"]["reasons"] == [{"code": "earlier_churn", "text": "Churned before", "weight": 1.0}]
    assert (dana["name"], dana["mrr_cents"], dana["customer_email"]) == ("Dana Scully", 4900, "dana@example.com")

    # Filters and sorting.
    r = await api.get(f"/projects/{project['slug']}/customers?level=high", token=token)
    assert [c["key"] for c in r.data] == ["cus_fading"]
    r = await api.get(f"/projects/{project['slug']}/customers?status=churned", token=token)
    assert [c["key"] for c in r.data] == ["dana@example.com"]
    r = await api.get(f"/projects/{project['slug']}/customers?q=DANA", token=token)
    assert [c["key"] for c in r.data] == ["dana@example.com"]
    r = await api.get(f"/projects/{project['slug']}/customers?q=cus_&sort=last_seen_at&order=asc", token=token)
    assert [c["key"] for c in r.data] == ["cus_fading", "cus_steady"]
    r = await api.get(f"/projects/{project['slug']}/customers?sort=mrr_cents&per_page=1", token=token)
    assert [c["key"] for c in r.data] == ["dana@example.com"] and r.json["meta"]["total"] == 3
    r = await api.get(f"/projects/{project['slug']}/customers?sort=name", token=token)
    assert r.status == 400 and r.error["details"][0]["field"] == "sort"
    r = await api.get(f"/projects/{project['slug']}/customers?level=severe", token=token)
    assert r.status == 400

    # Weights from settings.risk: watched pages no longer count.
    r = await api.patch(f"/projects/{project['slug']}", {"settings": {"risk": {"weights": {"watch_pages": 0}}}},
                        token=token)
    assert r.status == 200, r
    r = await api.get(f"/projects/{project['slug']}/customers/cus_fading", token=token)
    days = days_since(noon(10))
    assert r.data["risk"]["score"] == sigmoid_score(-3 + 3 * drop + 2.5 * days / 30)
    assert [x["code"] for x in r.data["risk"]["reasons"]] == ["activity_drop", "inactivity"]


@pytest.mark.gen_test
async def test_risk_settings_are_validated(api):
    token, project = await api.owner()
    r = await api.patch(f"/projects/{project['slug']}",
                        {"settings": {"risk": {"weights": {"watch_pages": "high", "nonsense": 1}}}}, token=token)
    assert r.status == 400, r
    fields = {d["field"] for d in r.error["details"]}
    assert "settings.risk.weights.watch_pages" in fields
    r = await api.patch(f"/projects/{project['slug']}", {"settings": {"risk": {"watch_events": ["pricing_viewed"]}}},
                        token=token)
    assert r.status == 200 and r.data["settings"]["risk"] == {"watch_events": ["pricing_viewed"]}


@pytest.mark.gen_test
async def test_a_churn_event_with_only_the_email_joins_the_tracked_customer(api):
    token, project = await api.owner()
    await track(api, project["secret_key"], [{"event": "login", "customer_id": "cus_9/x", "customer_email": "erin@example.com",
                                              "timestamp": stamp(noon(2))}])
    r = await api.post(f"/projects/{project['slug']}/churn-events", {"customer_email": "ERIN@example.com"}, token=token)
    assert r.status == 201
    r = await api.get(f"/projects/{project['slug']}/customers", token=token)
    assert [(c["key"], c["status"]) for c in r.data] == [("cus_9/x", "churned")]
    r = await api.get(f"/projects/{project['slug']}/customers/" + urllib.parse.quote("cus_9/x", safe=""), token=token)
    assert r.status == 200, r
    today = dt.datetime.now(dt.timezone.utc).date()
    assert r.data["timeline"][0]["day"] == today.isoformat() and r.data["timeline"][0]["churn_events"] == 1
    assert r.data["timeline"][1] == {"day": noon(2).date().isoformat(), "events": {"login": 1}, "churn_events": 0,
                                     "emails_sent": 0, "payment_recoveries": 0, "billing_actions": 0}
    r = await api.get(f"/projects/{project['slug']}/customers/nobody", token=token)
    assert r.status == 404 and r.error["code"] == "NOT_FOUND"


@pytest.mark.gen_test
async def test_a_tenant_never_sees_another_projects_customers(api):
    token_a, a = await api.owner("alpha")
    token_b, b = await api.owner("bravo")
    await track(api, a["secret_key"], [{"event": "login", "customer_id": "cus_a", "timestamp": stamp(noon(1))}])
    await track(api, b["secret_key"], [{"event": "login", "customer_id": "cus_b", "timestamp": stamp(noon(1))}])
    r = await api.get("/projects/alpha/customers", token=token_a)
    assert [c["key"] for c in r.data] == ["cus_a"]
    r = await api.get("/projects/alpha/customers", key=a["secret_key"])
    assert [c["key"] for c in r.data] == ["cus_a"]
    assert (await api.get("/projects/alpha/customers/cus_b", token=token_a)).status == 404
    assert (await api.get("/projects/bravo/customers", token=token_a)).status == 404
    assert (await api.get("/projects/bravo/customers/cus_b", key=a["secret_key"])).status == 404


@pytest.mark.gen_test
async def test_the_timeline_shows_only_the_asked_projects_events(api):
    token, a = await api.owner("alpha")
    b = await api.new_project(token, name="Bravo", slug="bravo")
    await track(api, a["secret_key"], [{"event": "report_viewed", "customer_id": "cus_shared", "timestamp": stamp(noon(3))}])
    await track(api, b["secret_key"], [{"event": "export_used", "customer_id": "cus_shared", "timestamp": stamp(noon(3))},
                                       {"event": "export_used", "customer_id": "cus_shared", "timestamp": stamp(noon(2))}])
    r = await api.get("/projects/alpha/customers/cus_shared", token=token)
    assert r.status == 200, r
    assert [(d["day"], d["events"]) for d in r.data["timeline"]] == [(noon(3).date().isoformat(), {"report_viewed": 1})]
    r = await api.get("/projects/bravo/customers/cus_shared", token=token)
    assert [(d["day"], d["events"]) for d in r.data["timeline"]] == [
        (noon(2).date().isoformat(), {"export_used": 1}), (noon(3).date().isoformat(), {"export_used": 1})]


def roc_auc(positives: list[float], negatives: list[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@pytest.mark.gen_test(timeout=120)
async def test_the_score_ranks_future_churners_above_stayers_on_synthetic_data(api):
    token, project = await api.owner()
    people = generate(customers=200, seed=7)
    events = [{**e, "customer_id": p["customer_id"]} for p in people for e in p["events"]]
    await track(api, project["secret_key"], events)
    scores = {}
    for page in range(1, 3):
        r = await api.get(f"/projects/{project['slug']}/customers?per_page=100&page={page}", token=token)
        scores.update({c["key"]: c["risk"]["score"] for c in r.data})
    assert len(scores) == 200
    churners = [scores[p["customer_id"]] for p in people if p["will_churn"]]
    stayers = [scores[p["customer_id"]] for p in people if not p["will_churn"]]
    auc = roc_auc(churners, stayers)
    print(f"ROC AUC on the synthetic set: {auc:.3f} ({len(churners)} churners, {len(stayers)} stayers)")
    assert auc > 0.8


@pytest.mark.gen_test
async def test_scores_follow_new_events_after_a_read(api):
    token, project = await api.owner()
    key, path = project["secret_key"], f"/projects/{project['slug']}/customers/cus_1"
    await track(api, key, [{"event": "login", "customer_id": "cus_1", "timestamp": stamp(noon(20))}] * 4)
    r = await api.get(path, token=token)
    assert (r.data["events_last_14d"], r.data["events_prior_28d"]) == (0, 4)
    assert r.data["risk"]["reasons"][0]["code"] == "activity_drop"
    # Scored; now a busy week: the same customer's new events are counted and scored again.
    await track(api, key, [{"event": "login", "customer_id": "cus_1", "timestamp": stamp(noon(d))} for d in (1, 2, 3)])
    await track(api, key, [{"event": "login", "customer_id": "cus_1", "timestamp": stamp(noon(2))}])
    r = await api.get(path, token=token)
    assert (r.data["events_last_14d"], r.data["events_prior_28d"]) == (4, 4)
    assert r.data["last_seen_at"] == stamp(noon(1)).replace("Z", ".000Z")
    assert [x["code"] for x in r.data["risk"]["reasons"]] == []


@pytest.mark.gen_test
async def test_the_migration_builds_customers_from_what_was_stored_before(api):
    from store import customers
    from store.db import transaction, unit_of_work

    token, project = await api.owner()
    await track(api, project["secret_key"], known_set())
    r = await api.post(f"/projects/{project['slug']}/churn-events", {"customer_email": "dana@example.com"}, token=token)
    assert r.status == 201
    before = (await api.get(f"/projects/{project['slug']}/customers", token=token)).data
    with unit_of_work(), transaction():  # as a database from before customers existed
        customers.CustomerActivity.delete().execute()
        customers.Customer.delete().execute()
        customers.backfill()
    after = (await api.get(f"/projects/{project['slug']}/customers", token=token)).data
    assert [(c["key"], c["status"], c["risk"], c["events_last_14d"]) for c in after] == [
        (c["key"], c["status"], c["risk"], c["events_last_14d"]) for c in before]
