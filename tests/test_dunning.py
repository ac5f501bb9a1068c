"""Failed-payment recovery: signed provider deliveries open and close recoveries, and the dunning
emails arrive at a real SMTP server (aiosmtpd on loopback) from the durable scheduler."""
from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time

import pytest

from store import webhooks
from store.db import run_db, transaction, unit_of_work
from store.webhook_effects import apply_stored_event
from store.scheduled_jobs import ScheduledJob
from tests.dunning_support import (FAST, custom, failed_invoice, razorpay, razorpay_payload, scheduler_running,
                                   set_steps, stripe, text_of, until)
from tests.test_openai_writer import fake_openai  # noqa: F401 - a loopback chat-completions server
from tests.test_sending import fetch, smtp  # noqa: F401 - the SMTP server fixture
from tests.webhook_support import churn_events, settled, stripe_event, stripe_subscription, webhook_project

pytestmark = pytest.mark.env(FAST)


async def recoveries(api, project, query=""):
    r = await api.get(f"/projects/acme/payment-recoveries{query}", key=project["secret_key"])
    assert r.status == 200, r
    return r


async def one(api, project, recovery_id):
    r = await api.get(f"/projects/acme/payment-recoveries/{recovery_id}", key=project["secret_key"])
    assert r.status == 200, r
    return r.data


@pytest.mark.gen_test(timeout=120)
async def test_stripe_failed_invoice_opens_a_recovery_and_the_first_email_names_amount_and_link(smtp, api, ctx):
    _, project = await webhook_project(api)
    async with scheduler_running(ctx):
        sent_at = time.monotonic()
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_F1", amount=4900))
        assert await until(lambda: len(smtp.messages) == 1)
        assert time.monotonic() - sent_at < 60
    _, rcpt, message, _ = smtp.messages[0]
    assert rcpt == ["ada@example.com"]
    text = text_of(message)
    assert "49.00 USD" in text and "49.00 USD" in message["Subject"]
    assert "https://invoice.stripe.com/i/acct_1/in_F1" in text
    assert "Hi Ada" in text
    assert "Unsubscribe: http://windback.test/api/v1/unsubscribe?token=" in text
    assert message["List-Unsubscribe"].startswith("<http://windback.test/api/v1/unsubscribe?token=")
    assert churn_events(project["id"]) == [], "a failed payment is not a churn"

    listed = await recoveries(api, project)
    [recovery] = listed.data
    assert recovery["id"].startswith("pr_") and listed.json["meta"]["total"] == 1
    assert {k: recovery[k] for k in ("provider", "invoice_id", "subscription_id", "amount_due_cents", "currency",
                                     "attempt_count", "status", "customer_email", "customer_name", "customer_id",
                                     "emails_sent", "update_payment_url")} == {
        "provider": "stripe", "invoice_id": "in_F1", "subscription_id": "sub_A1", "amount_due_cents": 4900,
        "currency": "USD", "attempt_count": 1, "status": "open", "customer_email": "ada@example.com",
        "customer_name": "Ada Lovelace", "customer_id": "cus_A1", "emails_sent": 1,
        "update_payment_url": "https://invoice.stripe.com/i/acct_1/in_F1"}
    detail = await one(api, project, recovery["id"])
    assert [(e["step"], e["status"]) for e in detail["emails"]] == [(0, "sent"), (1, "scheduled"), (2, "scheduled")]
    first = detail["emails"][0]
    assert first["message_id"] == message["Message-ID"] and first["sent_at"] and first["error"] is None
    assert message["Message-ID"].startswith("<job_"), "the job id is the Message-ID"
    assert recovery["next_email_at"] == detail["emails"][1]["due_at"]


@pytest.mark.gen_test(timeout=120)
async def test_each_step_is_firmer_and_invoice_paid_stops_the_sequence(smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 0, 0.0004, 0.0025, 0.003)  # now, +1.4 s, +9 s, +10.8 s
    async with scheduler_running(ctx):
        started = time.monotonic()
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_P1", amount=12345))
        assert await until(lambda: len(smtp.messages) == 2)
        subjects = [m[2]["Subject"] for m in smtp.messages]
        assert "didn't go through" in subjects[0] and subjects[1].startswith("Reminder")
        assert all("123.45 USD" in text_of(m[2]) for m in smtp.messages)
        customer = (await api.get("/projects/acme/customers/cus_A1", token=token)).data
        assert "open_payment_recovery" in [reason["code"] for reason in customer["risk"]["reasons"]]
        assert sum(day["payment_recoveries"] for day in customer["timeline"]) == 1
        await stripe(api, project, "invoice.paid", {**failed_invoice("in_P1", amount=12345), "amount_paid": 12345})
        await settled(project["id"])
        customer = (await api.get("/projects/acme/customers/cus_A1", token=token)).data
        assert "open_payment_recovery" not in [reason["code"] for reason in customer["risk"]["reasons"]]
        await asyncio.sleep(max(0.0, started + 0.003 * 3600 + 1.0 - time.monotonic()))  # the last step's time
    assert len(smtp.messages) == 2, "no email after the invoice was paid"
    [recovery] = (await recoveries(api, project)).data
    assert recovery["status"] == "recovered" and recovery["recovered_at"] and recovery["next_email_at"] is None
    assert recovery["amount_recovered_cents"] == 12345
    detail = await one(api, project, recovery["id"])
    assert [e["status"] for e in detail["emails"]] == ["sent", "sent", "cancelled", "cancelled"]
    stats = (await api.get("/projects/acme/stats", key=project["secret_key"])).data["payment_recovery"]
    assert stats == {"opened": 1, "recovered": 1, "failed": 0, "stopped": 0, "open": 0, "recovery_rate": 1.0,
                     "amount_due_cents": {"USD": 12345}, "amount_recovered_cents": {"USD": 12345},
                     "recovered_after_step": {"1": 1}}


@pytest.mark.gen_test(timeout=120)
async def test_the_final_step_says_the_subscription_ends_and_a_repeat_failure_counts_attempts(smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 0, 0.0002)
    async with scheduler_running(ctx):
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_R1", attempt=1))
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_R1", attempt=2))
        assert await until(lambda: len(smtp.messages) == 2)
        await asyncio.sleep(0.5)
    assert len(smtp.messages) == 2, "one sequence per invoice"
    assert smtp.messages[1][2]["Subject"].startswith("Final notice")
    assert "will be cancelled" in text_of(smtp.messages[1][2])
    [recovery] = (await recoveries(api, project)).data
    assert recovery["attempt_count"] == 2 and recovery["emails_sent"] == 2


@pytest.mark.gen_test(timeout=120)
async def test_stripe_giving_up_fails_the_recovery_and_records_the_churn(smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 0, 5)
    async with scheduler_running(ctx):
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_G1"))
        assert await until(lambda: len(smtp.messages) == 1)
        deleted = stripe_subscription(customer="cus_A1", cancellation_details={"reason": "payment_failed"})
        deleted["id"] = "sub_A1"
        await stripe(api, project, "customer.subscription.deleted", deleted)
        await settled(project["id"])
    [recovery] = (await recoveries(api, project)).data
    assert recovery["status"] == "failed" and recovery["next_email_at"] is None
    assert [e["status"] for e in (await one(api, project, recovery["id"]))["emails"]] == ["sent", "cancelled"]
    [event] = churn_events(project["id"])
    assert event.cancel_reason == "payment_failed" and event.source == "stripe"


@pytest.mark.gen_test(timeout=120)
async def test_razorpay_failed_payment_and_pending_are_one_recovery_and_halted_fails_it(smtp, api, ctx):
    _, project = await webhook_project(api)
    async with scheduler_running(ctx):
        await razorpay(api, project, razorpay_payload("payment.failed"))
        await razorpay(api, project, razorpay_payload("subscription.pending", with_payment=False))
        assert await until(lambda: len(smtp.messages) == 1)
        text = text_of(smtp.messages[0][2])
        assert "499.00 INR" in text and "https://rzp.io/i/sub_R1" in text and "Hi Ravi" in text
        [recovery] = (await recoveries(api, project)).data
        assert (recovery["provider"], recovery["attempt_count"], recovery["invoice_id"]) == ("razorpay", 2, "inv_R1")
        await razorpay(api, project, razorpay_payload("subscription.halted"))
        await settled(project["id"])
    [recovery] = (await recoveries(api, project)).data
    assert recovery["status"] == "failed"
    [event] = churn_events(project["id"])
    assert event.cancel_reason == "payment_failed" and event.source == "razorpay"


@pytest.mark.gen_test(timeout=120)
async def test_razorpay_charge_recovers_and_a_payment_outside_a_subscription_is_ignored(smtp, api, ctx):
    _, project = await webhook_project(api)
    lone = razorpay_payload("payment.failed")
    del lone["payload"]["subscription"]
    await razorpay(api, project, lone)
    await razorpay(api, project, razorpay_payload("payment.failed", subscription="sub_R2", invoice="inv_R2"))
    await razorpay(api, project, razorpay_payload("subscription.charged", subscription="sub_R2"))
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["ignored", "processed", "processed"]
    [recovery] = (await recoveries(api, project)).data
    assert (recovery["status"], recovery["amount_recovered_cents"]) == ("recovered", 49900)


@pytest.mark.gen_test(timeout=120)
async def test_custom_sender_opens_and_closes_and_invalid_fields_are_refused(smtp, api, ctx):
    _, project = await webhook_project(api)
    bad = await custom(api, project, {"type": "payment_failed", "customer_email": "kim@example.com",
                                      "invoice_id": "inv_1", "amount_due_cents": -5})
    assert bad.status == 400
    assert {d["field"] for d in bad.error["details"]} >= {"amount_due_cents", "update_payment_url"}
    async with scheduler_running(ctx):
        r = await custom(api, project, {"type": "payment_failed", "customer_email": "kim@example.com",
                                        "customer_name": "Kim", "invoice_id": "inv_1", "amount_due_cents": 1500,
                                        "currency": "gbp", "update_payment_url": "https://billing.example/pay/1"})
        assert r.status == 200, r
        assert await until(lambda: len(smtp.messages) == 1)
        assert "15.00 GBP" in text_of(smtp.messages[0][2])
        assert "https://billing.example/pay/1" in text_of(smtp.messages[0][2])
        r = await custom(api, project, {"type": "payment_succeeded", "invoice_id": "inv_1"})
        assert r.status == 200, r
        await settled(project["id"])
    [recovery] = (await recoveries(api, project)).data
    assert (recovery["status"], recovery["provider"], recovery["amount_recovered_cents"]) == ("recovered", "custom",
                                                                                              1500)


@pytest.mark.gen_test(timeout=120)
async def test_a_step_more_than_a_day_late_is_skipped_and_recorded(smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 0, 20, 40)
    # Stripe kept retrying the delivery: the failure happened 30 hours ago.
    async with scheduler_running(ctx):
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_L1"),
                     created=int(time.time()) - 30 * 3600)
        await settled(project["id"])
        [recovery] = (await recoveries(api, project)).data

        def settled_steps():
            with unit_of_work():
                return ScheduledJob.select().where((ScheduledJob.ref == recovery["id"])
                                                   & (ScheduledJob.status == "scheduled")).count() == 1
        assert await until(settled_steps)
        assert await until(lambda: len(smtp.messages) == 1)
    detail = await one(api, project, recovery["id"])
    assert [e["status"] for e in detail["emails"]] == ["skipped", "sent", "scheduled"]
    assert "30.0 h late" in detail["emails"][0]["error"]
    assert detail["emails"][0]["sent_at"] is None


@pytest.mark.gen_test(timeout=120)
async def test_stop_cancels_unsent_emails_and_answers_409_when_not_open(smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 1, 2)
    await stripe(api, project, "invoice.payment_failed", failed_invoice("in_S1", amount=900))
    await stripe(api, project, "invoice.payment_failed", failed_invoice("in_S2", amount=5000, customer="cus_B",
                                                                         email="bo@example.com"))
    await settled(project["id"])
    by_amount = (await recoveries(api, project, "?sort=amount_due_cents&order=asc")).data
    assert [r["amount_due_cents"] for r in by_amount] == [900, 5000]
    first = by_amount[0]["id"]
    stopped = await api.post(f"/projects/acme/payment-recoveries/{first}/stop", token=token)
    assert stopped.status == 200 and stopped.data["status"] == "stopped"
    assert [e["status"] for e in stopped.data["emails"]] == ["cancelled", "cancelled"]
    again = await api.post(f"/projects/acme/payment-recoveries/{first}/stop", token=token)
    assert again.status == 409 and again.error["code"] == "CONFLICT"
    assert [r["id"] for r in (await recoveries(api, project, "?status=open")).data] == [by_amount[1]["id"]]
    assert [r["customer_email"] for r in (await recoveries(api, project, "?customer_email=Bo@Example.com")).data] \
        == ["bo@example.com"]
    assert (await api.get("/projects/acme/payment-recoveries?status=nope", token=token)).status == 400
    assert (await api.get("/projects/acme/payment-recoveries?sort=customer_email", token=token)).status == 400
    assert (await api.get("/projects/acme/payment-recoveries/pr_missing", token=token)).status == 404
    assert (await api.post("/projects/acme/payment-recoveries/pr_missing/stop", token=token)).status == 404
    other_token, _ = await api.owner("other")
    assert (await api.get(f"/projects/acme/payment-recoveries/{first}", token=other_token)).status == 404


@pytest.mark.gen_test(timeout=120)
async def test_unsubscribing_stops_the_recovery_and_a_suppressed_address_gets_nothing(smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 0, 0.002)  # the second step 7 s after each failure
    async with scheduler_running(ctx):
        started = time.monotonic()
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_U1"))
        assert await until(lambda: len(smtp.messages) == 1)
        link = re.search(r"Unsubscribe: (\S+)", text_of(smtp.messages[0][2])).group(1)
        r = await fetch(api, link, headers={"Accept": "application/json"})
        assert r.code == 200
        [recovery] = (await recoveries(api, project)).data
        assert recovery["status"] == "stopped"
        # Another failure of the same (now suppressed) customer: no email, recorded skipped.
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_U2"))
        await settled(project["id"])
        listed = (await recoveries(api, project, "?status=open")).data
        assert await until(lambda: _email_status(listed[0]["id"]) == "skipped")
        await asyncio.sleep(max(0.0, started + 0.002 * 3600 + 1.0 - time.monotonic()))
    assert len(smtp.messages) == 1
    detail = await one(api, project, listed[0]["id"])
    assert detail["emails"][0]["error"] == "the address unsubscribed"


def _email_status(recovery_id: str) -> str | None:
    with unit_of_work():
        job = (ScheduledJob.select().where(ScheduledJob.ref == recovery_id).order_by(ScheduledJob.due_at).first())
    return job.status if job else None


@pytest.mark.gen_test(timeout=120)
async def test_dunning_settings_are_validated_and_disabled_dunning_sends_nothing(smtp, api, ctx):
    token, project = await webhook_project(api)
    got = await api.get("/projects/acme", token=token)
    assert got.data["settings"]["dunning"] == {"enabled": True, "steps": [{"after_hours": 0}, {"after_hours": 72},
                                                                          {"after_hours": 168}]}
    for bad in ({"steps": [{"after_hours": -1}]}, {"steps": [{"after_hours": "soon"}]}, {"enabled": "yes"},
                {"steps": [{"after_hours": 5}, {"after_hours": 1}]}, {"steps": [{}]}, {"extra": 1}):
        r = await api.patch("/projects/acme", {"settings": {"dunning": bad}}, token=token)
        assert r.status == 400, (bad, r)
    r = await api.patch("/projects/acme", {"settings": {"dunning": {"enabled": False}}}, token=token)
    assert r.data["settings"]["dunning"]["enabled"] is False and len(r.data["settings"]["dunning"]["steps"]) == 3
    async with scheduler_running(ctx):
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_D1"))
        await settled(project["id"])
        await asyncio.sleep(0.3)
    assert smtp.messages == []
    [recovery] = (await recoveries(api, project)).data
    assert recovery["status"] == "open" and (await one(api, project, recovery["id"]))["emails"] == []


@pytest.mark.gen_test(timeout=120)
async def test_the_openai_writer_writes_the_email_from_amount_link_and_firmness_only(fake_openai, smtp, api, ctx):
    token, project = await webhook_project(api)
    await set_steps(api, token, 0, 0.003)  # the second step 11 s later, after the answer below changes
    fake_openai.content = json.dumps({"subject": "Ada, a quick note about your card",
                                      "body_text": "Hi Ada,\n\nWe could not collect 49.00 USD. Could you check your card?"})
    async with scheduler_running(ctx):
        await stripe(api, project, "invoice.payment_failed", failed_invoice("in_AI1"))
        assert await until(lambda: len(smtp.messages) == 1)
        fake_openai.mode = "500"  # the second step falls back to the template
        assert await until(lambda: len(smtp.messages) == 2)
    first, second = smtp.messages[0][2], smtp.messages[1][2]
    assert first["Subject"] == "Ada, a quick note about your card"
    assert "https://invoice.stripe.com/i/acct_1/in_AI1" in text_of(first), "the link is added when the model omits it"
    assert second["Subject"].startswith("Final notice") and "49.00 USD" in text_of(second)
    asked = json.loads(fake_openai.requests[0]["body"]["messages"][1]["content"])
    assert asked == {"first_name": "Ada", "brand": "Acme", "amount": "49.00 USD",
                     "update_link": "https://invoice.stripe.com/i/acct_1/in_AI1", "firmness": "first"}
    assert "ada@example.com" not in json.dumps(fake_openai.requests[0]["body"])


@pytest.mark.gen_test(timeout=60)
async def test_a_failure_waiting_to_be_applied_with_the_payment_that_settled_it_opens_nothing(api, ctx):
    """Both stored before the project's actor drains them: the drain applies the older failure
    first (provider-time order), and the payment waiting behind it still settles it."""
    _, project = await webhook_project(api)
    now = int(time.time())
    paid = stripe_event("invoice.paid", {**failed_invoice("in_W1"), "amount_paid": 4900}, created=now - 10)
    failed = stripe_event("invoice.payment_failed", failed_invoice("in_W1"), created=now - 3600)

    def store_both_then_drain():
        with transaction():
            webhooks.store_deliveries([
                webhooks.Delivery(project["id"], "stripe", event["id"], event["type"], json.dumps(event),
                                  dt.datetime.fromtimestamp(event["created"], dt.timezone.utc).replace(tzinfo=None))
                for event in (paid, failed)])
        pending = webhooks.pending_ids(project["id"])
        assert pending[0] == webhooks.WebhookEvent.get(webhooks.WebhookEvent.event_id == failed["id"]).id
        return [apply_stored_event(event_id) for event_id in pending]

    assert await run_db(store_both_then_drain) == ["processed", "processed"]
    assert (await recoveries(api, project)).data == []


@pytest.mark.gen_test(timeout=120)
async def test_a_failure_delivered_after_the_payment_that_settled_it_opens_nothing(smtp, api, ctx):
    _, project = await webhook_project(api)
    now = int(time.time())
    paid = {**failed_invoice("in_O1"), "amount_paid": 4900}
    await stripe(api, project, "invoice.paid", paid, created=now - 10)
    await stripe(api, project, "invoice.payment_failed", failed_invoice("in_O1"), created=now - 3600)
    custom_paid = await custom(api, project, {"type": "payment_succeeded", "invoice_id": "inv_O2"})
    assert custom_paid.status == 200
    await asyncio.sleep(0.01)
    late = await custom(api, project, {"type": "payment_failed", "customer_email": "kim@example.com",
                                       "invoice_id": "inv_O2", "amount_due_cents": 100,
                                       "update_payment_url": "https://billing.example/pay/2"})
    assert late.status == 200
    rows = await settled(project["id"])
    assert [row.status for row in rows] == ["processed"] * 4
    assert (await recoveries(api, project)).data == []
    # A failure newer than the payment is a new failure.
    await stripe(api, project, "invoice.payment_failed", failed_invoice("in_O1"), created=now)
    await settled(project["id"])
    assert [r["invoice_id"] for r in (await recoveries(api, project)).data] == ["in_O1"]
