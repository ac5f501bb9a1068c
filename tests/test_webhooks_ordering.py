"""Deliveries in any order: events are applied by the provider's own time (docs/webhooks.md)."""
import datetime as dt
import time

import pytest

from tests.webhook_support import (churn_events, encode, settled, stripe_event, stripe_headers, stripe_invoice,
                                   stripe_subscription, webhook_project)


async def deliver(api, project, event):
    body = encode(event)
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 200, r
    await settled(project["id"])


def at(unix):
    return dt.datetime.fromtimestamp(unix, dt.timezone.utc).replace(tzinfo=None)


@pytest.mark.gen_test
async def test_a_recovery_that_arrives_before_its_churn_leaves_the_churn_recovered(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, stripe_event("invoice.paid", stripe_invoice(amount=3900), created=now - 10))
    assert churn_events(project["id"]) == []  # nothing to close yet
    await deliver(api, project, stripe_event("customer.subscription.deleted", stripe_subscription(), created=now - 100))
    [event] = churn_events(project["id"])
    assert event.status == "recovered"
    assert event.churned_at == at(now - 100) and event.recovered_at == at(now - 10)
    assert event.recovered_mrr_cents == 3900 and event.mrr_cents == 2900
    # A second, even older churn of the same customer belongs to the same (recovered) episode.
    await deliver(api, project, stripe_event("customer.subscription.updated",
                                             stripe_subscription(cancel_at_period_end=True),
                                             previous={"cancel_at_period_end": False}, created=now - 50))
    assert [e.status for e in churn_events(project["id"])] == ["recovered"]


@pytest.mark.gen_test
async def test_a_recovery_older_than_the_churn_does_not_close_it(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, stripe_event("customer.subscription.deleted", stripe_subscription(), created=now - 10))
    await deliver(api, project, stripe_event("customer.subscription.created", stripe_subscription(), created=now - 900))
    [event] = churn_events(project["id"])
    assert event.status == "new"
    # A newer one does.
    await deliver(api, project, stripe_event("customer.subscription.created", stripe_subscription(), created=now - 1))
    [event] = churn_events(project["id"])
    assert event.status == "recovered" and event.recovered_at == at(now - 1)


@pytest.mark.gen_test
async def test_older_churn_data_does_not_overwrite_newer(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, stripe_event("customer.subscription.deleted", stripe_subscription(amount=5000),
                                             created=now - 10))
    await deliver(api, project, stripe_event("customer.subscription.updated",
                                             stripe_subscription(amount=1000, cancel_at_period_end=True),
                                             previous={"cancel_at_period_end": False}, created=now - 500))
    [event] = churn_events(project["id"])
    assert event.mrr_cents == 5000 and event.status == "new"


@pytest.mark.gen_test
async def test_a_missing_email_comes_from_an_earlier_event_of_the_same_customer(api):
    _, project = await webhook_project(api)
    now = int(time.time())
    await deliver(api, project, stripe_event("customer.subscription.created",
                                             stripe_subscription(customer="cus_E5", email="eve@example.com"),
                                             created=now - 1000))
    await deliver(api, project, stripe_event("customer.subscription.deleted",
                                             stripe_subscription(customer="cus_E5", email=None), created=now - 10))
    [event] = churn_events(project["id"])
    assert event.customer_email == "eve@example.com" and event.customer_id == "cus_E5"
    assert event.status == "new"  # the subscription's creation is older than its deletion
