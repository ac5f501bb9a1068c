"""What each process keeps of a project (its keys, settings, webhook secrets) and how a change
made through another process reaches it: the project change log, read every second
(services/project_cache.py, services/change_feed.py, docs/deploy.md)."""
from __future__ import annotations

import datetime as dt
import time

import pytest

from services.project_cache import ProjectScopedCache
from store import project_changes
from store.db import transaction, unit_of_work
from store.keys import sha256_hex
from store.models import utcnow
from store.project_changes import ProjectChange
from tests.livehttp import call, owner_with_project

EVENTS = "/projects/acme/churn-events"


def seconds_until(predicate, timeout: float = 15.0) -> float:
    """How long until `predicate()` held (inf if it never did within `timeout`)."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return time.monotonic() - start
        time.sleep(0.05)
    return float("inf")


@pytest.mark.slow
def test_a_key_rotation_and_a_name_change_through_one_process_reach_the_other_within_two_seconds(live_server):
    first, second = live_server(), live_server()
    token, project = owner_with_project(first.url)
    slug, old_key = project["slug"], project["secret_key"]
    assert call(second.url, "GET", f"/projects/{slug}", key=old_key)[0] == 200  # the second process caches it

    status, body = call(first.url, "POST", f"/projects/{slug}/rotate-keys", {"grace_seconds": 0}, token=token)
    assert status == 200, body
    new_key = body["data"]["secret_key"]
    assert seconds_until(lambda: call(second.url, "GET", f"/projects/{slug}", key=old_key)[0] == 401) < 2.5, \
        "the old key stops working in the other process within a second or two, not when its cache expires"
    status, body = call(second.url, "GET", f"/projects/{slug}", key=new_key)
    assert status == 200 and body["data"]["name"] == "Acme"

    status, body = call(first.url, "PATCH", f"/projects/{slug}", {"name": "Acme Renamed"}, token=token)
    assert status == 200, body
    assert seconds_until(lambda: call(second.url, "GET", f"/projects/{slug}", key=new_key)[1]["data"]["name"]
                         == "Acme Renamed") < 2.5


@pytest.mark.slow
def test_a_new_webhook_secret_set_through_one_process_verifies_deliveries_to_the_other(live_server):
    import stripe

    first, second = live_server(), live_server()
    token, project = owner_with_project(first.url)
    slug, public_key = project["slug"], project["public_key"]

    def deliver(base: str, secret: str) -> int:
        payload = '{"id": "evt_feed", "object": "event", "type": "customer.created", "data": {"object": {}}}'
        signature = stripe.WebhookSignature.generate_signature_header(payload, secret)
        return call(base, "POST", f"/webhooks/stripe/{public_key}", raw=payload.encode(),
                    headers={"Stripe-Signature": signature})[0]

    status, _ = call(first.url, "PATCH", f"/projects/{slug}", {"settings": {"stripe_webhook_secret": "whsec_old"}},
                     token=token)
    assert status == 200
    assert seconds_until(lambda: deliver(second.url, "whsec_old") == 200) < 2.5  # and now cached there
    status, _ = call(first.url, "PATCH", f"/projects/{slug}", {"settings": {"stripe_webhook_secret": "whsec_new"}},
                     token=token)
    assert status == 200
    assert seconds_until(lambda: deliver(second.url, "whsec_new") == 200) < 2.5
    assert deliver(second.url, "whsec_old") == 400, "the replaced secret no longer verifies"


def test_a_value_read_before_any_project_was_forgotten_is_not_kept():
    cache = ProjectScopedCache(maxsize=100)
    before = cache.generation()
    cache.forget_project("prj_other")  # a change lands while the read is in flight
    cache.put("k", "prj_1", "read before the change", before)
    assert cache.get("k") is None, "it may be stale: the next request reads again"
    cache.put("k", "prj_1", "fresh", cache.generation())
    assert cache.get("k") == "fresh"
    cache.forget_project("prj_1")
    assert cache.get("k") is None


def test_an_entry_ends_with_its_key_grace_period_and_forgetting_stays_right_past_the_index_bound():
    cache = ProjectScopedCache(maxsize=100)
    cache.put("rotated", "prj_1", "owner", cache.generation(), expires_at=utcnow() - dt.timedelta(seconds=1))
    assert cache.get("rotated") is None
    cache.put("rotated", "prj_1", "owner", cache.generation(), expires_at=utcnow() + dt.timedelta(hours=1))
    assert cache.get("rotated") == "owner"
    for n in range(1_000):  # ten times the size: entries are evicted and the index is rebuilt
        cache.put(f"key-{n}", f"prj_{n % 7}", n, cache.generation())
    assert len(cache) == 100
    kept = {n for n in range(1_000) if cache.get(f"key-{n}") == n}
    assert kept and all(n >= 900 for n in kept)
    cache.forget_project("prj_3")
    assert [n for n in kept if cache.get(f"key-{n}") is not None] == [n for n in kept if n % 7 != 3]


@pytest.mark.gen_test
async def test_the_feed_forgets_a_project_changed_elsewhere_even_when_its_change_commits_after_a_later_one(api, ctx):
    token, project = await api.owner()
    feed = ctx.extras["change_feed"]
    key_hash = sha256_hex(project["secret_key"])
    assert (await api.get(EVENTS, key=project["secret_key"])).status == 200
    assert ctx.keys.get(key_hash) is not None, "the key's project is cached"

    with unit_of_work(), transaction():  # another process's change, taking a later id than one still open
        ProjectChange.insert(id=project_changes.latest_id() + 10, project_id="prj_elsewhere").execute()
    await feed.poll()
    assert ctx.keys.get(key_hash) is not None, "another project's change leaves this one cached"

    with unit_of_work(), transaction():  # the earlier id commits now (PostgreSQL can do that)
        ProjectChange.insert(id=project_changes.latest_id() - 5, project_id=project["id"]).execute()
    await feed.poll()
    assert ctx.keys.get(key_hash) is None, "seen although its id is below one already read"
    response = await api.get(EVENTS, key=project["secret_key"])
    assert response.status == 200 and ctx.keys.get(key_hash) is not None, "read again, cached again"


@pytest.mark.gen_test
async def test_old_changes_are_purged_but_the_newest_stays_so_ids_keep_rising(api, ctx):
    await api.owner()
    with unit_of_work(), transaction():
        for age_hours in (3, 2):
            ProjectChange.insert(project_id="prj_old", changed_at=utcnow() - dt.timedelta(hours=age_hours)).execute()
    with unit_of_work():
        newest = project_changes.latest_id()
        assert project_changes.purge() == 1
        assert [change_id for change_id, _ in project_changes.changes_after(0)] == [newest]
        project_changes.record("prj_next")
        assert project_changes.latest_id() > newest
