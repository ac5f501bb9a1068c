"""Helpers for the dunning tests: the scheduler running in the test server's process, signed
failed-payment deliveries of each provider, and waiting for what a user would see."""
from __future__ import annotations

import asyncio
import contextlib
import secrets
import time

from services.job_kinds import scheduler_for
from tests.webhook_support import (custom_headers, encode, razorpay_headers, stripe_event, stripe_headers,
                                   stripe_invoice)

FAST = {"WINDBACK_SCHEDULER_POLL_SECONDS": "0.05"}


@contextlib.asynccontextmanager
async def scheduler_running(ctx):
    """The process's scheduler, as `server.Server.listen` starts it (the `api` fixture serves the
    app without it)."""
    scheduler = scheduler_for(ctx).start()
    try:
        yield scheduler
    finally:
        await scheduler.shutdown()


async def until(predicate, timeout: float = 40.0, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return False


async def set_steps(api, token, *hours, slug="acme", enabled=True):
    r = await api.patch(f"/projects/{slug}", {"settings": {"dunning": {
        "enabled": enabled, "steps": [{"after_hours": h} for h in hours]}}}, token=token)
    assert r.status == 200, r
    return r


def failed_invoice(invoice_id=None, amount=4900, customer="cus_A1", email="ada@example.com", attempt=1,
                   currency="usd", subscription="sub_A1") -> dict:
    invoice = stripe_invoice(customer=customer, email=email, amount=amount, paid=False, currency=currency)
    invoice.update({"id": invoice_id or "in_" + secrets.token_hex(6), "attempt_count": attempt,
                    "subscription": subscription, "customer_name": "Ada Lovelace",
                    "hosted_invoice_url": f"https://invoice.stripe.com/i/acct_1/{invoice_id or 'x'}"})
    return invoice


async def stripe(api, project, event_type, obj, created=None):
    body = encode(stripe_event(event_type, obj, created=created))
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 200, r
    return r


async def razorpay(api, project, payload):
    body = encode(payload)
    r = await api.post(f"/webhooks/razorpay/{project['public_key']}", raw=body,
                       headers=razorpay_headers(body, event_id="evt_" + secrets.token_hex(6)))
    assert r.status == 200, r
    return r


async def custom(api, project, payload):
    body = encode(payload)
    r = await api.post(f"/webhooks/custom/{project['public_key']}", raw=body, headers=custom_headers(body))
    return r


def razorpay_payload(event: str, subscription="sub_R1", customer="cust_R1", email="ravi@example.in",
                     amount=49900, invoice="inv_R1", with_payment=True, created=None) -> dict:
    payload = {"subscription": {"entity": {
        "id": subscription, "entity": "subscription", "plan_id": "plan_gold", "customer_id": customer,
        "status": "pending", "current_start": 1767139200, "notes": {"email": email, "name": "Ravi Kumar"},
        "short_url": f"https://rzp.io/i/{subscription}"}}}
    if with_payment:
        payload["payment"] = {"entity": {"id": "pay_" + secrets.token_hex(6), "entity": "payment", "amount": amount,
                                         "currency": "INR", "status": "failed", "email": email,
                                         "customer_id": customer, "invoice_id": invoice}}
    return {"entity": "event", "account_id": "acc_test", "event": event, "contains": list(payload),
            "payload": payload, "created_at": int(time.time()) if created is None else created}


def text_of(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()
