"""Every path that changes a churn event announces it once it committed: the REST API, the
cancel-flow widget, provider webhooks (applied by the actor), sending a variant, the lost sweep.
A change that is refused announces nothing. Also: an endpoint failing for 5 days is disabled and
the project's owners and admins are emailed."""
from __future__ import annotations

import datetime as dt
import email
import glob
import os

import pytest

from store import churn_events
from store.db import run_db, unit_of_work
from store.models import utcnow
from store.outbound import WebhookEndpoint
from tests.billing_support import connected_project, stripe_fake, widget_answer  # noqa: F401 - fixture
from tests.outbound_support import OUTBOUND_ENV, Receiver, deliveries, receivers, scheduling, until  # noqa: F401 - fixture
from tests.webhook_support import custom_headers, encode, settled, webhook_project

pytestmark = pytest.mark.env(OUTBOUND_ENV)


async def subscribe(api, token, url, events=("*",)):
    r = await api.post("/projects/acme/webhook-endpoints", {"url": url, "events": list(events)}, token=token)
    assert r.status == 201, r
    return r.data["secret"]


def types_of(receiver: Receiver, secret: str) -> list[str]:
    return sorted(event["type"] for event in receiver.events(secret))


@pytest.mark.gen_test(timeout=90)
async def test_every_path_emits_its_events(api, ctx, receivers):
    receiver = receivers()
    async with scheduling(ctx):
        token, project = await webhook_project(api)
        secret = await subscribe(api, token, receiver.url)
        key = project["secret_key"]

        # REST API: created, then recovered; a refused second recovery announces nothing.
        r = await api.post("/projects/acme/churn-events", {"customer_email": "api@example.com", "mrr_cents": 1000},
                           key=key)
        first = r.data["id"]
        assert (await api.post(f"/projects/acme/churn-events/{first}/recovered", {}, key=key)).status == 200
        assert (await api.post(f"/projects/acme/churn-events/{first}/recovered", {}, key=key)).status == 409
        assert await until(lambda: len(receiver.received) == 2)
        recovered = [e for e in receiver.events(secret) if e["type"] == "churn_event.recovered"]
        assert recovered[0]["data"]["id"] == first and recovered[0]["data"]["status"] == "recovered"

        # The widget: a new event (source widget), saved by the offer, and the submission itself.
        r = await api.post("/cancel-flow/reasons", {"public_key": project["public_key"], "customer_email": "w@example.com",
                                                    "reason": "too_expensive", "offer_accepted": True})
        assert r.status == 201, r
        assert await until(lambda: len(receiver.received) == 5)
        by_type = {e["type"]: e["data"] for e in receiver.events(secret)}
        assert by_type["churn_event.created"]["source"] in ("api", "widget")
        assert by_type["churn_event.saved"]["id"] == r.data["churn_event_id"]
        submitted = by_type["cancel_flow.submitted"]
        assert (submitted["churn_event_id"], submitted["reason"], submitted["offer_accepted"], submitted["saved"]) == (
            r.data["churn_event_id"], "too_expensive", True, True)
        assert submitted["churn_event"]["status"] == "saved"

        # A provider webhook, applied by the project's actor after the answer.
        body = encode({"type": "churn", "customer_email": "hook@example.com", "customer_id": "u_9", "mrr_cents": 7000})
        assert (await api.post(f"/webhooks/custom/{project['public_key']}", raw=body,
                               headers=custom_headers(body))).status == 200
        await settled(project["id"])
        assert await until(lambda: len(receiver.received) == 6)
        hooked = receiver.events(secret)[-1]
        assert hooked["type"] == "churn_event.created" and hooked["data"]["source"] == "custom"

        # Sending a variant.
        r = await api.post(f"/projects/acme/churn-events/{hooked['data']['id']}/generate", {}, key=key)
        assert r.status == 201, r
        variant = r.data[0]
        r = await api.post(f"/projects/acme/churn-events/{hooked['data']['id']}/variants/{variant['id']}/send", {},
                           key=key)
        assert r.status == 200, r
        assert await until(lambda: len(receiver.received) == 7)
        sent = receiver.events(secret)[-1]
        assert sent["type"] == "variant.sent" and sent["data"]["id"] == variant["id"]
        assert sent["data"]["status"] == "sent" and sent["data"]["churn_event"]["status"] == "contacted"

        # The lost sweep: an event that churned 200 days ago (the default is lost after 90).
        old = (utcnow() - dt.timedelta(days=200)).strftime("%Y-%m-%dT%H:%M:%SZ")
        r = await api.post("/projects/acme/churn-events", {"customer_email": "old@example.com", "churned_at": old},
                           key=key)
        assert await run_db(churn_events.sweep_lost) == 1
        assert await run_db(churn_events.sweep_lost) == 0  # announced once
        assert await until(lambda: len(receiver.received) == 9)
        # Deliveries run concurrently (two per endpoint): this event's `created` may arrive after it.
        [lost] = [e for e in receiver.events(secret) if e["type"] == "churn_event.lost"]
        assert lost["data"]["id"] == r.data["id"] and lost["data"]["status"] == "lost"
        assert types_of(receiver, secret) == sorted(
            ["churn_event.created"] * 4 + ["churn_event.recovered", "churn_event.saved", "cancel_flow.submitted",
                                           "variant.sent", "churn_event.lost"])
        assert await until(lambda: {d.status for d in deliveries()} == {"succeeded"})


@pytest.mark.gen_test(timeout=60)
async def test_an_endpoint_failing_for_five_days_is_disabled_and_admins_are_emailed(api, ctx, settings, receivers):
    failing = receivers(statuses=[500] * 10)
    async with scheduling(ctx):
        token, project = await api.owner()
        r = await api.post("/projects/acme/webhook-endpoints", {"url": failing.url}, token=token)
        endpoint_id = r.data["id"]
        with unit_of_work():  # it has been failing since six days ago
            (WebhookEndpoint.update(failing_since=utcnow() - dt.timedelta(days=6))
             .where(WebhookEndpoint.id == endpoint_id).execute())
        await api.post("/projects/acme/churn-events", {"customer_email": "d@example.com"}, key=project["secret_key"])
        assert await until(lambda: deliveries()[0].status == "failed" and deliveries()[0].attempts == 1)
        shown = await api.get(f"/projects/acme/webhook-endpoints/{endpoint_id}", token=token)
        assert shown.data["enabled"] is False and "5 days" in shown.data["disabled_reason"]

        def disabled_mails():
            # Registration also sends a verification email; only the disabling notice counts here.
            found = []
            for path in glob.glob(os.path.join(settings.outbox_dir, "*.eml")):
                with open(path, "rb") as handle:
                    message = email.message_from_bytes(handle.read())
                if message["Subject"] == "A webhook endpoint was disabled":
                    found.append(message)
            return found

        assert await until(lambda: len(disabled_mails()) == 1)
        [message] = disabled_mails()
        assert "@example.com" in message["To"]
        assert failing.url in message.get_payload(decode=True).decode()

        # Disabled: a new event queues nothing for it; enabling it again starts afresh.
        await api.post("/projects/acme/churn-events", {"customer_email": "e@example.com"}, key=project["secret_key"])
        assert len(deliveries()) == 1
        r = await api.patch(f"/projects/acme/webhook-endpoints/{endpoint_id}", {"enabled": True}, token=token)
        assert r.data["enabled"] is True and r.data["disabled_reason"] is None


@pytest.mark.gen_test(timeout=90)
async def test_failed_payments_announce_their_opening_and_recovery(api, ctx, receivers):
    """A payment recovery's opening and closing reach the endpoints, from signed provider
    deliveries (custom sender), with the recovery as the API shows it; a stop announces nothing."""
    receiver = receivers()
    async with scheduling(ctx):
        token, project = await webhook_project(api)
        secret = await subscribe(api, token, receiver.url, events=(
            "payment_recovery.opened", "payment_recovery.recovered", "payment_recovery.failed"))

        async def deliver(payload):
            body = encode(payload)
            r = await api.post(f"/webhooks/custom/{project['public_key']}", raw=body, headers=custom_headers(body))
            assert r.status == 200, r
            await settled(project["id"])

        for invoice in ("in_1", "in_2"):
            await deliver({"type": "payment_failed", "customer_email": f"{invoice}@example.com", "invoice_id": invoice,
                           "amount_due_cents": 4900, "currency": "usd",
                           "update_payment_url": f"https://pay.example.com/{invoice}"})
        assert await until(lambda: len(receiver.received) == 2)
        opened = {e["data"]["invoice_id"]: e["data"] for e in receiver.events(secret)}
        assert {e["type"] for e in receiver.events(secret)} == {"payment_recovery.opened"}
        assert opened["in_1"]["id"].startswith("pr_") and opened["in_1"]["status"] == "open"
        assert opened["in_1"]["amount_due_cents"] == 4900 and opened["in_1"]["currency"] == "USD"

        await deliver({"type": "payment_succeeded", "invoice_id": "in_1"})
        await deliver({"type": "payment_succeeded", "invoice_id": "in_1"})  # already closed: nothing more
        assert await until(lambda: len(receiver.received) == 3)
        [recovered] = [e for e in receiver.events(secret) if e["type"] == "payment_recovery.recovered"]
        assert recovered["data"]["id"] == opened["in_1"]["id"] and recovered["data"]["status"] == "recovered"

        r = await api.post(f"/projects/acme/payment-recoveries/{opened['in_2']['id']}/stop", {}, token=token)
        assert r.status == 200, r
        await deliver({"type": "payment_succeeded", "invoice_id": "in_2"})  # stopped: not reopened or announced
        assert await until(lambda: {d.status for d in deliveries()} == {"succeeded"})
        assert types_of(receiver, secret) == ["payment_recovery.opened", "payment_recovery.opened",
                                              "payment_recovery.recovered"]


@pytest.mark.gen_test(timeout=90)
async def test_billing_actions_announce_applied_and_failed(stripe_fake, api, ctx, receivers):
    """An offer applied in Stripe, and one Stripe refused, each reach the endpoints once, with the
    billing action as the API shows it."""
    receiver = receivers()
    async with scheduling(ctx):
        token, project, identity = await connected_project(api, stripe_fake)
        secret = await subscribe(api, token, receiver.url, events=("billing_action.applied", "billing_action.failed"))
        stripe_fake.add_subscription("cus_1")
        r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", identity))
        assert r.status == 200, r
        applied = r.data["billing_action"]
        stripe_fake.add_subscription("cus_2")
        stripe_fake.fail_next(402, {"error": {"type": "card_error", "message": "Your card was declined."}})
        r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_2", identity))
        assert r.status == 502, r
        assert await until(lambda: len(receiver.received) == 2)
        by_type = {e["type"]: e["data"] for e in receiver.events(secret)}
        assert by_type["billing_action.applied"]["id"] == applied["id"]
        assert by_type["billing_action.applied"]["status"] == "applied"
        assert by_type["billing_action.failed"]["customer_id"] == "cus_2"
        assert "declined" in by_type["billing_action.failed"]["error"]


@pytest.mark.gen_test(timeout=90)
async def test_a_customer_turning_high_risk_is_announced_once(api, ctx, receivers):
    """Tracked activity that fades makes a customer's level high: `customer.at_risk` reaches the
    endpoints once, with the customer as the API shows it; reading again announces nothing more."""
    from tests.test_customers import known_set, track

    receiver = receivers()
    async with scheduling(ctx):
        token, project = await api.owner()
        secret = await subscribe(api, token, receiver.url, events=("customer.at_risk",))
        await track(api, project["secret_key"], known_set())
        for _ in range(2):  # the second read finds nothing new: no second announcement
            r = await api.get(f"/projects/{project['slug']}/customers", token=token)
            assert r.status == 200
        assert await until(lambda: len(receiver.received) >= 1)
        assert await until(lambda: {d.status for d in deliveries()} == {"succeeded"})
        [announced] = receiver.events(secret)
        high = [c for c in r.data if c["risk"]["level"] == "high"]
        assert announced["type"] == "customer.at_risk" and [announced["data"]["key"]] == [c["key"] for c in high]
        assert announced["data"]["key"] == "cus_fading" and announced["data"]["risk"]["level"] == "high"
