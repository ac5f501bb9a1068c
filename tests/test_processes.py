"""Several server processes on one database: `server.py --processes N`, and correctness across
processes coming from the database guards (each process has its own project actors)."""
from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest

from store.db import unit_of_work
from store.webhooks import WebhookEvent
from tests.conftest import PG_URL
from tests.livehttp import call, owner_with_project, wait_for

pytestmark = pytest.mark.slow
needs_postgres = pytest.mark.skipif(not PG_URL, reason="several processes share one PostgreSQL database "
                                                        "(WINDBACK_TEST_DATABASE_URL)")


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                found.append(int(entry))
    return found



def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT does not count
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_processes_serve_replace_a_killed_child_and_all_stop_on_sigterm(live_server):
    server = live_server(args=("--processes", "2"))
    parent = server.process.pid
    assert wait_for(lambda: len(children_of(parent)) == 2), "two serving children"
    token, project = owner_with_project(server.url)
    for _ in range(10):  # new connections spread over both children; all share the database
        status, body = call(server.url, "GET", f"/projects/{project['slug']}", key=project["secret_key"])
        assert status == 200 and body["data"]["slug"] == "acme"

    victim = children_of(parent)[0]
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in children_of(parent) and len(children_of(parent)) == 2), \
        "the parent replaces a child that died"
    assert wait_for(lambda: call(server.url, "GET", "/health")[0] == 200)

    assert server.stop() == 0, server.read_log()[-3000:]
    assert children_of(parent) == []
    assert port_is_free(server.port), "no child is left holding the port"
    assert server.read_log().count("Windback: stopping") >= 2


@needs_postgres
def test_concurrent_recovered_through_two_processes_answers_200_once(live_server):
    first, second = live_server(), live_server()
    token, project = owner_with_project(first.url)
    slug, key = project["slug"], project["secret_key"]
    status, body = call(first.url, "POST", f"/projects/{slug}/churn-events",
                        {"customer_email": "ada@example.com", "mrr_cents": 4900}, key=key)
    assert status == 201, body
    event_id = body["data"]["id"]

    # Each process has its own actor for the project: only the database can keep this to one.
    start = threading.Barrier(12)
    answers: list[int] = []

    def mark(base):
        start.wait()
        answers.append(call(base, "POST", f"/projects/{slug}/churn-events/{event_id}/recovered", {},
                            key=key)[0])

    threads = [threading.Thread(target=mark, args=(server.url,)) for server in (first, second) * 6]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(answers) == [200] + [409] * 11
    for server in (first, second):
        status, body = call(server.url, "GET", f"/projects/{slug}/churn-events/{event_id}", key=key)
        assert body["data"]["status"] == "recovered" and body["data"]["recovered_mrr_cents"] == 4900


def stripe_event(event_id: str, email: str, created: int) -> bytes:
    import json

    return json.dumps({
        "id": event_id, "object": "event", "type": "customer.subscription.deleted", "created": created,
        "livemode": False, "api_version": "2024-06-20",
        "data": {"object": {
            "id": "sub_cross", "object": "subscription", "customer": "cus_cross", "status": "canceled",
            "currency": "usd", "metadata": {"email": email}, "cancel_at_period_end": False,
            "items": {"object": "list", "data": [{"id": "si_1", "object": "subscription_item", "quantity": 1,
                                                  "price": {"id": "price_1", "object": "price", "unit_amount": 4900,
                                                            "currency": "usd",
                                                            "recurring": {"interval": "month", "interval_count": 1}}}]},
        }},
    }).encode()


@needs_postgres
def test_one_stripe_event_delivered_to_two_processes_at_once_makes_one_churn_event(live_server):
    import stripe

    first, second = live_server(), live_server()
    token, project = owner_with_project(first.url)
    slug, key = project["slug"], project["secret_key"]
    secret = "whsec_cross_process_test_secret"
    status, body = call(first.url, "PATCH", f"/projects/{slug}", {"settings": {"stripe_webhook_secret": secret}},
                        token=token)
    assert status == 200, body
    payload = stripe_event("evt_cross_1", "ada@example.com", int(time.time()))
    signature = stripe.WebhookSignature.generate_signature_header(payload.decode(), secret)
    start = threading.Barrier(10)
    answers: list = []

    def deliver(base):
        start.wait()
        answers.append(call(base, "POST", f"/webhooks/stripe/{project['public_key']}", raw=payload,
                            headers={"Stripe-Signature": signature}))

    threads = [threading.Thread(target=deliver, args=(server.url,)) for server in (first, second) * 5]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert [status for status, _ in answers] == [200] * 10, answers
    assert sorted(body["data"]["duplicate"] for _, body in answers) == [False] + [True] * 9

    def churn_events():
        return call(first.url, "GET", f"/projects/{slug}/churn-events", key=key)[1]

    def applied() -> bool:
        with unit_of_work():
            return [e.status for e in WebhookEvent.select()] == ["processed"]

    assert wait_for(applied), "one stored delivery, applied"
    listed = churn_events()
    assert listed["meta"]["total"] == 1
    assert listed["data"][0]["customer_email"] == "ada@example.com" and listed["data"][0]["source"] == "stripe"
