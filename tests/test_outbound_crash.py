"""Outbound deliveries survive `kill -9`: churn events created on a server whose receiver is
failing are delivered by a second server process on the same database after the first is killed,
every one of them, with the signature and webhook-id they were queued with."""
from __future__ import annotations

import json

import pytest

from tests.livehttp import call, owner_with_project, wait_for
from tests.outbound_support import OUTBOUND_ENV, Receiver, deliveries

pytestmark = pytest.mark.slow

ENV = {**OUTBOUND_ENV, "WINDBACK_WEBHOOK_RETRY_SCALE": "0.0005"}


def test_deliveries_pending_at_kill_9_are_all_delivered_by_the_next_process(live_server):
    receiver = Receiver(statuses=[503] * 10_000)  # failing until we say otherwise
    try:
        first = live_server(env=ENV)
        token, project = owner_with_project(first.url)
        status, body = call(first.url, "POST", f"/projects/{project['slug']}/webhook-endpoints",
                            {"url": receiver.url, "events": ["churn_event.created"]}, token=token)
        assert status == 201, body
        secret = body["data"]["secret"]
        created = set()
        for i in range(30):
            status, body = call(first.url, "POST", f"/projects/{project['slug']}/churn-events",
                                {"customer_email": f"k{i}@example.com"}, key=project["secret_key"])
            assert status == 201
            created.add(body["data"]["id"])
        assert wait_for(lambda: len(receiver.received) >= 30)  # attempts are being made, and failing
        first.kill()
        pending = [d for d in deliveries() if d.status == "pending"]
        assert len(pending) == 30, "nothing was delivered before the kill"

        receiver.statuses.clear()  # the receiver recovers
        second = live_server(env=ENV)
        # A run cut off by the kill waits for its lease (30 s) before it is run again.
        assert wait_for(lambda: {d.status for d in deliveries()} == {"succeeded"}, timeout=100), \
            [(d.status, d.attempts, d.last_error) for d in deliveries()]
        delivered = {event["data"]["id"] for event in receiver.events(secret)}  # all signatures verify
        assert delivered == created
        ids_by_event = {}
        for headers, body in receiver.received:
            ids_by_event.setdefault(json.loads(body)["data"]["id"], set()).add(headers["webhook-id"])
        assert all(len(ids) == 1 for ids in ids_by_event.values()), "each event keeps its webhook-id across attempts"
        second.stop()
    finally:
        receiver.close()
