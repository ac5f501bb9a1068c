"""Razorpay webhooks: amounts in paise; a delivery is identified by its payload's own ids, never by the
unsigned X-Razorpay-Event-Id header."""
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
    assert [row.status for row in rows] == ["processed"] and rows[0].event_id.startswith("rzp:")
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
    # Without X-Razorpay-Event-Id the payload's ids identify the delivery just the same.
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


@pytest.mark.gen_test
async def test_a_captured_delivery_replayed_under_a_new_event_id_header_is_a_duplicate(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, razorpay_event("subscription.halted", amount=49900, created=now - 60), event_id="e1")
    recovery = encode(razorpay_event("subscription.charged", amount=49900, created=now - 30))
    assert (await deliver(api, project, None, body=recovery, event_id="evt_real")).data["duplicate"] is False
    # The customer churns again later (a new event); then someone replays the captured recovery,
    # correctly signed, under header ids of their own.
    await settled(project["id"])
    await deliver(api, project, razorpay_event("subscription.cancelled", with_payment=False, created=now - 10),
                  event_id="e3")
    for forged_id in ("evt_forged_1", "evt_forged_2", None):
        r = await deliver(api, project, None, body=recovery, event_id=forged_id)
        assert r.status == 200 and r.data == {"received": True, "duplicate": True}, forged_id
    rows = await settled(project["id"])
    assert len(rows) == 3
    events = churn_events(project["id"])
    assert [(e.status, e.cancel_reason) for e in events] == [("recovered", "payment_failed"), ("new", None)]


@pytest.mark.gen_test
async def test_events_that_share_a_subscription_but_not_a_payment_are_distinct(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    # Two monthly charges of the same subscription: same event name, new payment id and time.
    first = razorpay_event("subscription.charged", created=now - 40)
    second = razorpay_event("subscription.charged", created=now - 20)
    answers = [await deliver(api, project, event, event_id=f"evt_{n}") for n, event in enumerate((first, second))]
    assert [a.data["duplicate"] for a in answers] == [False, False]
    assert len(await settled(project["id"])) == 2
