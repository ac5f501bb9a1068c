"""Never twice, across real server processes: a kill -9 between the provider's answer and its
recording, and ten accepts for one customer racing through two processes."""
from __future__ import annotations

import os
import signal
import threading

import pytest

from store.billing import BillingAction
from store.cancel_flow import CancelFlowSubmission
from store.db import unit_of_work
from store.models import ChurnEvent
from tests.billing_support import OFFERS, STRIPE_KEY, stripe_fake, widget_answer  # noqa: F401
from tests.helpers import count
from tests.livehttp import call, owner_with_project, wait_for

pytestmark = pytest.mark.slow


def connect(base: str) -> tuple[str, dict, str]:
    token, project = owner_with_project(base)
    status, body = call(base, "PATCH", "/projects/acme", {"settings": {
        "billing": {"provider": "stripe", "stripe_api_key": STRIPE_KEY}, "cancel_flow": {"offers": OFFERS}}},
        token=token)
    assert status == 200, body
    status, body = call(base, "GET", "/projects/acme", token=token)
    return token, project, body["data"]["identity_secret"]


def only_action() -> BillingAction:
    with unit_of_work():
        (action,) = BillingAction.select()
        return action


def test_kill_9_after_the_provider_applied_is_finished_once_after_restart(stripe_fake, live_server):
    server = live_server()
    token, project, secret = connect(server.url)
    sub = stripe_fake.add_subscription("cus_1", cancel_at_period_end=True)

    def crash_when_applied(received):
        # Stripe has applied the change; the server dies before it hears the answer.
        if received.method == "POST" and received.path.startswith("/v1/subscriptions/") and not received.replayed:
            os.kill(server.process.pid, signal.SIGKILL)

    stripe_fake.on_request = crash_when_applied
    try:
        call(server.url, "POST", "/cancel-flow/reasons", widget_answer(project, "cus_1", secret), timeout=10)
    except OSError:
        pass  # the connection died with the process
    server.process.wait(10)
    assert server.process.returncode == -signal.SIGKILL
    action = only_action()
    assert action.status == "pending" and action.params  # what was sent is on record with its id
    assert stripe_fake.applied_updates == 1

    stripe_fake.on_request = None
    restarted = live_server()
    assert wait_for(lambda: only_action().status == "applied", timeout=30), restarted.read_log()[-2000:]
    updates = stripe_fake.writes()
    assert len(updates) == 2, "sent again after the restart"
    assert [u.headers["idempotency-key"] for u in updates] == [action.id, action.id]
    assert updates[0].form == updates[1].form
    assert [u.replayed for u in updates] == [False, True]
    assert stripe_fake.applied_updates == 1, "Stripe applied the change once"
    assert sub["discounts"] and sub["cancel_at_period_end"] is False
    finished = only_action()
    assert finished.provider_object_id == sub["id"] and finished.churn_event_id
    with unit_of_work():
        event = ChurnEvent.get_by_id(finished.churn_event_id)
    assert event.status == "saved" and event.saved
    assert count(CancelFlowSubmission) == 1
    status, body = call(restarted.url, "GET", "/projects/acme/billing-actions", token=token)
    assert [a["status"] for a in body["data"]] == ["applied"]


def test_ten_concurrent_accepts_for_one_customer_across_two_processes_apply_one(stripe_fake, live_server):
    first, second = live_server(), live_server()
    token, project, secret = connect(first.url)
    stripe_fake.add_subscription("cus_1")
    stripe_fake.delay = 0.3  # the first action is still in flight while the others arrive
    results = []

    def accept(i):
        base = (first, second)[i % 2].url
        results.append(call(base, "POST", "/cancel-flow/reasons", widget_answer(project, "cus_1", secret)))

    threads = [threading.Thread(target=accept, args=(i,)) for i in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * 9, results
    assert all(body["error"]["code"] == "CONFLICT" for status, body in results if status == 409)
    assert len(stripe_fake.writes()) == 1 and stripe_fake.applied_updates == 1
    assert count(BillingAction) == 1 and only_action().status == "applied"
