"""Stripe webhooks: signed deliveries create, update and close churn events exactly once."""
import asyncio
import datetime as dt
import time

import pytest

from store.db import unit_of_work
from store.variants import Variant
from tests.webhook_support import (churn_events, encode, settled, stripe_event, stripe_headers, stripe_invoice,
                                   stripe_subscription, webhook_project)


async def deliver(api, project, event):
    body = encode(event)
    return await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))


@pytest.mark.gen_test
async def test_subscription_deleted_creates_one_churn_event_with_the_right_fields(api):
    _, project = await webhook_project(api)
    created = int(time.time()) - 120
    sub = stripe_subscription(amount=12000, quantity=2, interval="year", currency="eur",
                              cancellation_details={"reason": "cancellation_requested", "feedback": "switched_service",
                                                    "comment": "Found a cheaper tool"})
    r = await deliver(api, project, stripe_event("customer.subscription.deleted", sub, created=created))
    assert r.status == 200 and r.data == {"received": True, "duplicate": False}, r
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed"]
    [event] = churn_events(project["id"])
    assert event.source == "stripe"
    assert event.customer_email == "ada@example.com" and event.customer_id == "cus_A1"
    assert event.mrr_cents == 2000  # 2 x 120.00 a year = 20.00 a month
    assert event.currency == "EUR"
    assert event.plan == "Pro"
    assert event.cancel_reason == "switched_competitor" and event.cancel_reason_detail == "Found a cheaper tool"
    assert event.status == "new"
    assert event.churned_at == dt.datetime.fromtimestamp(created, dt.timezone.utc).replace(tzinfo=None)
    # Visible through the API like any other churn event.
    listed = await api.get("/projects/acme/churn-events?source=stripe", key=project["secret_key"])
    assert listed.status == 200 and [e["id"] for e in listed.data] == [event.id]


@pytest.mark.gen_test
async def test_cancellation_then_invoice_paid_recovers_the_event(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    r = await deliver(api, project, stripe_event("customer.subscription.deleted", stripe_subscription(amount=4900),
                                                 created=now - 60))
    assert r.status == 200, r
    await settled(project["id"])
    [event] = churn_events(project["id"])
    assert (event.status, event.mrr_cents, event.currency) == ("new", 4900, "USD")
    r = await deliver(api, project, stripe_event("invoice.paid", stripe_invoice(amount=4900), created=now - 10))
    assert r.status == 200, r
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed", "processed"]
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_mrr_cents == 4900
    assert event.recovered_at == dt.datetime.fromtimestamp(now - 10, dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.gen_test
async def test_cancel_at_period_end_on_is_churn_and_off_again_is_recovery(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    on = stripe_subscription(customer="cus_B2", email="bo@example.com", cancel_at_period_end=True)
    await deliver(api, project, stripe_event("customer.subscription.updated", on, created=now - 30,
                                             previous={"cancel_at_period_end": False}))
    # An update that does not touch cancel_at_period_end means nothing for churn.
    await deliver(api, project, stripe_event("customer.subscription.updated", on, created=now - 20,
                                             previous={"metadata": {}}))
    await settled(project["id"])
    [event] = churn_events(project["id"])
    assert event.status == "new" and event.customer_email == "bo@example.com" and event.mrr_cents == 2900
    off = stripe_subscription(customer="cus_B2", email="bo@example.com", cancel_at_period_end=False)
    await deliver(api, project, stripe_event("customer.subscription.updated", off, created=now - 10,
                                             previous={"cancel_at_period_end": True}))
    rows = await settled(project["id"])
    assert sorted(row.status for row in rows) == ["ignored", "processed", "processed"]
    [event] = churn_events(project["id"])
    assert event.status == "recovered"


@pytest.mark.gen_test
async def test_same_event_three_times_and_twenty_times_concurrently_has_one_effect(api):
    _, project = await webhook_project(api)
    churn = stripe_event("customer.subscription.deleted", stripe_subscription(), created=int(time.time()) - 60)
    answers = [await deliver(api, project, churn) for _ in range(3)]
    assert [a.data["duplicate"] for a in answers] == [False, True, True]
    recovery = stripe_event("customer.subscription.created", stripe_subscription(amount=3900),
                            created=int(time.time()) - 5)
    concurrent = await asyncio.gather(*(deliver(api, project, recovery) for _ in range(20)))
    assert all(a.status == 200 for a in concurrent), concurrent
    assert sorted(a.data["duplicate"] for a in concurrent) == [False] + [True] * 19
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed", "processed"]
    assert [row.attempts for row in rows] == [1, 1]
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_mrr_cents == 3900


@pytest.mark.gen_test
async def test_unhandled_types_are_stored_as_ignored(api):
    _, project = await webhook_project(api)
    r = await deliver(api, project, stripe_event("charge.refunded", {"id": "ch_1", "object": "charge"}))
    assert r.status == 200 and r.data["duplicate"] is False
    # A handled type that means nothing for churn: an invoice of 0.
    r = await deliver(api, project, stripe_event("invoice.paid", stripe_invoice(amount=0)))
    assert r.status == 200
    rows = await settled(project["id"])
    assert sorted((row.event_type, row.status) for row in rows) == [("charge.refunded", "ignored"),
                                                                    ("invoice.paid", "ignored")]
    assert churn_events(project["id"]) == []


@pytest.mark.gen_test
async def test_recovery_after_a_sent_variant_is_attributed_to_it(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, stripe_event("customer.subscription.deleted", stripe_subscription(), created=now - 600))
    await settled(project["id"])
    [event] = churn_events(project["id"])
    sent_at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - dt.timedelta(minutes=5)
    with unit_of_work():
        common = dict(project=project["id"], churn_event=event.id, tone="friendly", subject="We miss you",
                      body_text="Come back", body_html="<p>Come back</p>", generator="template")
        Variant.create(strategy="value_reminder", status="sent", sent_at=sent_at - dt.timedelta(hours=1), **common)
        last = Variant.create(strategy="discount_offer", status="sent", sent_at=sent_at, **common)
        Variant.create(strategy="personal_check_in", status="draft", **common)
    await deliver(api, project, stripe_event("invoice.payment_succeeded", stripe_invoice(amount=2900), created=now - 5))
    await settled(project["id"])
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_by_variant_id == last.id
