"""Two server processes change one churn event at once on PostgreSQL: a transition writes only
the columns it changes, so a concurrent `recovered` from the other process is never undone.

The interleaving is made, not hoped for: the test holds the event's row lock, lets process 1's
`recovered` queue on it first and process 2's change second (each has read the row by then), and
lets go. Process 2 then writes after process 1 committed, with what it read before. A transition
that wrote the whole row back (the read-then-save of earlier versions) put `status` and
`recovered_at` back to what it had read.
"""
from __future__ import annotations

import threading
import urllib.parse

import pytest

from tests.conftest import PG_URL
from tests.livehttp import call, owner_with_project, wait_for

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not PG_URL, reason="two processes share one PostgreSQL database "
                                                    "(WINDBACK_TEST_DATABASE_URL)")]


def _connect(url: str):
    import psycopg2

    parsed = urllib.parse.urlsplit(url)
    return psycopg2.connect(host=parsed.hostname, port=parsed.port or 5432, user=parsed.username,
                            password=parsed.password, dbname=parsed.path.lstrip("/"), connect_timeout=5)


def _waiting_on_locks(monitor) -> int:
    with monitor.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'")
        return cur.fetchone()[0]


def _race(migrated, first, second, event_id: str, recover, change) -> tuple:
    """Run `recover` against process `first` and `change` against `second`, with the recovery
    committed between `change`'s read and its write. Returns (recover's answer, change's answer)."""
    holder, monitor = _connect(migrated), _connect(migrated)
    monitor.autocommit = True
    answers: dict = {}
    try:
        with holder.cursor() as cur:
            cur.execute("SELECT id FROM churn_events WHERE id = %s FOR UPDATE", (event_id,))
        threads = {"recover": threading.Thread(target=lambda: answers.update(recover=recover(first.url))),
                   "change": threading.Thread(target=lambda: answers.update(change=change(second.url)))}
        threads["recover"].start()
        assert wait_for(lambda: _waiting_on_locks(monitor) == 1, 20), "recovered waits on the row lock"
        threads["change"].start()
        assert wait_for(lambda: _waiting_on_locks(monitor) == 2, 20), "the change waits behind it"
        holder.rollback()  # the recovery goes first, then the change
        for thread in threads.values():
            thread.join(30)
    finally:
        holder.close()
        monitor.close()
    return answers["recover"], answers["change"]


def _setup(live_server):
    first, second = live_server(), live_server()
    token, project = owner_with_project(first.url)
    slug, key = project["slug"], project["secret_key"]
    status, body = call(first.url, "POST", f"/projects/{slug}/churn-events",
                        {"customer_email": "ada@example.com", "customer_id": "cus_ada", "mrr_cents": 4900,
                         "cancel_reason": "other"}, key=key)
    assert status == 201, body
    return first, second, slug, key, body["data"]["id"]


def test_cancel_reason_change_does_not_undo_a_recovery_in_another_process(live_server, migrated):
    first, second, slug, key, event_id = _setup(live_server)
    path = f"/projects/{slug}/churn-events/{event_id}"
    recovered, changed = _race(
        migrated, first, second, event_id,
        lambda base: call(base, "POST", path + "/recovered", {"recovered_mrr_cents": 3000}, key=key),
        lambda base: call(base, "PATCH", path + "/cancel-reason", {"cancel_reason": "too_expensive"}, key=key))
    assert recovered[0] == 200, recovered
    assert changed[0] == 200, changed
    status, body = call(first.url, "GET", path, key=key)
    event = body["data"]
    assert (event["status"], event["recovered_mrr_cents"]) == ("recovered", 3000), event
    assert event["recovered_at"] is not None
    assert event["cancel_reason"] == "too_expensive", "both changes landed"


def test_repeated_churn_does_not_undo_a_recovery_in_another_process(live_server, migrated):
    first, second, slug, key, event_id = _setup(live_server)
    path = f"/projects/{slug}/churn-events"
    recovered, repeated = _race(
        migrated, first, second, event_id,
        lambda base: call(base, "POST", f"{path}/{event_id}/recovered", {}, key=key),
        lambda base: call(base, "POST", path, {"customer_email": "ada@example.com", "mrr_cents": 5900,
                                               "cancel_reason": "too_expensive"}, key=key))
    assert recovered[0] == 200, recovered
    status, body = call(first.url, "GET", f"{path}/{event_id}", key=key)
    event = body["data"]
    assert (event["status"], event["recovered_mrr_cents"]) == ("recovered", 4900), event
    assert event["recovered_at"] is not None
    # The churn came after the recovery committed: the customer churned again, a new open event.
    assert repeated[0] == 201, repeated
    assert repeated[1]["data"]["id"] != event_id and repeated[1]["data"]["status"] == "new"
    status, listed = call(first.url, "GET", f"{path}?sort=created_at&order=asc", key=key)
    assert [e["status"] for e in listed["data"]] == ["recovered", "new"]
