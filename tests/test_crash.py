"""Crash safety: `kill -9` of the server in the middle of a stream of writes. After a restart,
every write that was answered 2xx is in the database, and sending the unanswered ones again (as
a client or a provider retrying would) adds no duplicates."""
from __future__ import annotations

import datetime as dt
import json
import time
import threading
import urllib.error
from concurrent.futures import ThreadPoolExecutor

import peewee
import pytest

from store.db import unit_of_work
from store.models import ChurnEvent, IdempotencyKey
from store.payment_recoveries import PaymentRecovery
from tests.livehttp import call, owner_with_project, wait_for

pytestmark = pytest.mark.slow


def stream_then_kill(server, send, total: int, kill_after: int, workers: int = 6):
    """Run `send(i)` for i in range(total) from a few threads; `kill -9` the server once
    `kill_after` were answered. Returns (answered 2xx: set of i, unanswered: set of i)."""
    answered, lock, killed = set(), threading.Lock(), threading.Event()

    def one(i):
        if killed.is_set():
            return
        try:
            status = send(server.url, i)
        except (OSError, urllib.error.URLError):
            return  # the connection died with the server: no answer
        if 200 <= status < 300:
            with lock:
                answered.add(i)
                if len(answered) >= kill_after and not killed.is_set():
                    killed.set()
                    server.kill()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, range(total)))
    assert killed.is_set(), "the stream ended before the kill"
    return answered, set(range(total)) - answered


def test_churn_events_answered_before_kill_9_survive_and_retries_add_no_duplicates(live_server):
    server = live_server()
    token, project = owner_with_project(server.url)
    slug, key = project["slug"], project["secret_key"]

    def send(base, i):
        return call(base, "POST", f"/projects/{slug}/churn-events",
                    {"customer_email": f"c{i}@example.com", "mrr_cents": i}, key=key,
                    headers={"Idempotency-Key": f"churn-{i}"}, timeout=10)[0]

    answered, unanswered = stream_then_kill(server, send, total=400, kill_after=120)
    assert len(answered) >= 120 and unanswered

    with unit_of_work():
        stored = {e.customer_email for e in ChurnEvent.select(ChurnEvent.customer_email)}
    assert {f"c{i}@example.com" for i in answered} <= stored

    restarted = live_server()
    retries = sorted(unanswered) + sorted(answered)[:20]  # retries, including some that were answered
    statuses = {i: send(restarted.url, i) for i in retries}
    # A request cut off mid-flight left its Idempotency-Key claimed: its retry is refused (409)
    # until the claim's lease runs out; never re-run while the first might still be running.
    cut_off = [i for i, status in statuses.items() if status == 409]
    assert len(cut_off) <= 6 and all(status in (200, 201, 409) for status in statuses.values())
    with unit_of_work():  # let the lease run out (as two minutes passing would)
        for row in IdempotencyKey.select().where(IdempotencyKey.state == "in_flight"):
            IdempotencyKey.update(created_at=row.created_at - dt.timedelta(minutes=3)).where(
                IdempotencyKey.id == row.id).execute()
    for i in cut_off:
        assert send(restarted.url, i) in (200, 201)
    with unit_of_work():
        emails = [e.customer_email for e in ChurnEvent.select(ChurnEvent.customer_email)]
    assert len(emails) == len(set(emails)) == 400


def test_tracked_events_answered_before_kill_9_survive_and_retries_add_no_duplicates(live_server):
    from store.tracking import TrackedEvent

    server = live_server()
    token, project = owner_with_project(server.url)
    key = project["secret_key"]

    def send(base, i):
        batch = {"events": [{"event": f"e{i}", "customer_id": f"cus_{i}", "properties": {"n": n}} for n in range(5)]}
        return call(base, "POST", "/track", batch, key=key, headers={"Idempotency-Key": f"track-{i}"}, timeout=10)[0]

    def stored() -> dict[str, int]:
        with unit_of_work():
            rows = TrackedEvent.select(TrackedEvent.event, peewee.fn.COUNT(TrackedEvent.id).alias("n")).group_by(
                TrackedEvent.event)
            return {row.event: row.n for row in rows}

    answered, unanswered = stream_then_kill(server, send, total=600, kill_after=150)
    counts = stored()
    assert all(counts.get(f"e{i}") == 5 for i in answered), "every 202 is stored, whole"
    assert all(counts.get(f"e{i}", 0) in (0, 5) for i in unanswered), "no half-stored batch"

    restarted = live_server()
    statuses = {i: send(restarted.url, i) for i in sorted(unanswered)}
    # 202: never started before the kill, stored now; 409: its Idempotency-Key was claimed when the
    # server died, and it is refused rather than run a second time (see the lease in
    # store/idempotency.py).
    assert set(statuses.values()) <= {202, 409} and list(statuses.values()).count(409) <= 6
    counts = stored()
    assert all(counts.get(f"e{i}") == 5 for i, status in statuses.items() if status == 202)
    assert all(n == 5 for n in counts.values()), "no batch stored twice"


def test_signed_webhooks_and_tracked_events_mixed_survive_kill_9_and_replays_add_nothing(live_server):
    import stripe

    from store.tracking import TrackedEvent
    from store.webhooks import WebhookEvent

    server = live_server()
    token, project = owner_with_project(server.url)
    key, secret = project["secret_key"], "whsec_crash_test_secret"
    status, body = call(server.url, "PATCH", f"/projects/{project['slug']}",
                        {"settings": {"stripe_webhook_secret": secret}}, token=token)
    assert status == 200, body
    now = int(time.time())

    def send(base, i):
        if i % 2:  # a Stripe delivery, its own event id
            payload = json.dumps({"id": f"evt_crash_{i}", "object": "event", "type": "invoice.payment_failed",
                                  "created": now, "data": {"object": {
                                      "id": f"in_{i}", "object": "invoice", "customer": f"cus_{i}",
                                      "customer_email": f"payer{i}@example.com", "amount_due": 4900,
                                      "currency": "usd"}}})
            headers = {"Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, secret)}
            return call(base, "POST", f"/webhooks/stripe/{project['public_key']}", raw=payload.encode(),
                        headers=headers, timeout=10)[0]
        return call(base, "POST", "/track", {"event": f"e{i}", "customer_id": f"cus_{i}"}, key=key,
                    headers={"Idempotency-Key": f"mixed-{i}"}, timeout=10)[0]

    answered, unanswered = stream_then_kill(server, send, total=600, kill_after=200)
    with unit_of_work():
        deliveries = {e.event_id for e in WebhookEvent.select(WebhookEvent.event_id)}
        tracked = {e.event for e in TrackedEvent.select(TrackedEvent.event)}
    assert {f"evt_crash_{i}" for i in answered if i % 2} <= deliveries
    assert {f"e{i}" for i in answered if not i % 2} <= tracked

    restarted = live_server()
    statuses = {i: send(restarted.url, i) for i in sorted(unanswered)}
    assert all(status == 200 for i, status in statuses.items() if i % 2), "a delivery is always taken"
    assert all(status in (202, 409) for i, status in statuses.items() if not i % 2)

    def settled() -> bool:
        with unit_of_work():
            return not WebhookEvent.select().where(WebhookEvent.status == "received").exists()

    assert wait_for(settled)
    with unit_of_work():
        event_ids = [e.event_id for e in WebhookEvent.select(WebhookEvent.event_id)]
        events = [e.event for e in TrackedEvent.select(TrackedEvent.event)]
        recovering = [r.invoice_id for r in PaymentRecovery.select(PaymentRecovery.invoice_id)]
    assert len(event_ids) == len(set(event_ids)) == 300, "every delivery stored once"
    assert len(events) == len(set(events)), "no tracked event stored twice"
    assert len(recovering) == len(set(recovering)) == 300, "one payment recovery per failed payment"

