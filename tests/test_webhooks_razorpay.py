"""Razorpay webhooks: amounts in paise, event id from X-Razorpay-Event-Id (else the body's hash)."""
import asyncio
import time

import pytest

from tests.webhook_support import churn_events, encode, razorpay_event, razorpay_headers, settled, webhook_project


async def deliver(api, project, event, event_id=None, body=None):
    body = body or encode(event)
    return await api.post(f"/webhooks/razorpay/{project['public_key']}", raw=body,
                          headers=razorpay_headers(body, event_id=event_id))


@pytest.mark.gen_test
async def test_halted_subscription_creates_a_payment_failed_churn_event(api):
    _, project = await webhook_project(api)
    r = await deliver(api, project, razorpay_event("subscription.halted", amount=49900), event_id="evt_R_1")
    assert r.status == 200 and r.data == {"received": True, "duplicate": False}, r
    rows = await settled(project["id"])
    assert [(row.event_id, row.status) for row in rows] == [("evt_R_1", "processed")]
    [event] = churn_events(project["id"])
    assert event.source == "razorpay"
    assert (event.customer_email, event.customer_id) == ("ravi@example.in", "cust_R1")
    assert (event.mrr_cents, event.currency) == (49900, "INR")
    assert event.cancel_reason == "payment_failed" and event.plan == "plan_gold"


@pytest.mark.gen_test
async def test_cancelled_then_charged_recovers(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    # No payment entity and no email in the notes: the email comes from nowhere yet...
    await deliver(api, project, razorpay_event("subscription.cancelled", customer="cust_R9", email=None,
                                               with_payment=False, created=now - 50), event_id="evt_c")
    await settled(project["id"])
    [event] = churn_events(project["id"])
    assert event.customer_email is None and event.customer_id == "cust_R9" and event.status == "new"
    assert (event.mrr_cents, event.currency) == (0, "INR")  # no payment entity: no amount known
    # ...and is filled in when a later event of the same customer carries it.
    await deliver(api, project, razorpay_event("subscription.charged", customer="cust_R9", email="nina@example.in",
                                               amount=99900, created=now - 5), event_id="evt_ch")
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed", "processed"]
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_mrr_cents == 99900
    assert event.customer_email == "nina@example.in"


@pytest.mark.gen_test
async def test_the_same_event_three_times_and_twenty_times_concurrently_has_one_effect(api):
    _, project = await webhook_project(api)
    churn = razorpay_event("subscription.cancelled", created=int(time.time()) - 30)
    answers = [await deliver(api, project, churn, event_id="evt_dup") for _ in range(3)]
    assert [a.data["duplicate"] for a in answers] == [False, True, True]
    # Without X-Razorpay-Event-Id the body's SHA-256 identifies the delivery.
    recovery = encode(razorpay_event("subscription.activated", created=int(time.time())))
    concurrent = await asyncio.gather(*(deliver(api, project, None, body=recovery) for _ in range(20)))
    assert sorted(a.data["duplicate"] for a in concurrent) == [False] + [True] * 19
    rows = await settled(project["id"])
    assert len(rows) == 2 and {row.status for row in rows} == {"processed"}
    [event] = churn_events(project["id"])
    assert event.status == "recovered"


@pytest.mark.gen_test
async def test_other_razorpay_events_are_ignored(api):
    _, project = await webhook_project(api)
    r = await deliver(api, project, razorpay_event("payment.captured"), event_id="evt_pc")
    assert r.status == 200
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["ignored"]
    assert churn_events(project["id"]) == []


@pytest.mark.gen_test
async def test_a_later_cancellation_without_an_amount_keeps_the_known_mrr(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, razorpay_event("subscription.halted", amount=79900, created=now - 60), event_id="e1")
    await deliver(api, project, razorpay_event("subscription.cancelled", with_payment=False, created=now - 5),
                  event_id="e2")
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed", "processed"]
    [event] = churn_events(project["id"])
    assert (event.mrr_cents, event.currency, event.status) == (79900, "INR", "new")
