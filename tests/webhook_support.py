"""Helpers for the webhook tests: a project with webhook secrets, deliveries signed the way each
provider signs them (computed here from the specs, independently of the server's code), and a
wait for the project's actor to apply what was stored."""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time

from store.db import unit_of_work
from store.models import ChurnEvent
from store.webhooks import WebhookEvent

STRIPE_SECRET = "whsec_test_stripe_0123456789abcdef"
RAZORPAY_SECRET = "razorpay-webhook-secret-42"
CUSTOM_SECRET = "whsec_" + base64.b64encode(b"custom-sender-secret-bytes-0123").decode()


async def webhook_project(api, slug="acme"):
    """A project with all three webhook secrets set; returns (token, project)."""
    token, project = await api.owner(slug)
    r = await api.patch(f"/projects/{slug}", {"settings": {"stripe_webhook_secret": STRIPE_SECRET,
                                                          "razorpay_webhook_secret": RAZORPAY_SECRET,
                                                          "custom_webhook_secret": CUSTOM_SECRET}}, token=token)
    assert r.status == 200, r
    return token, project


def stripe_headers(body: bytes, secret=STRIPE_SECRET, timestamp=None) -> dict:
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={t},v1={mac}", "Content-Type": "application/json"}


def razorpay_headers(body: bytes, secret=RAZORPAY_SECRET, event_id=None) -> dict:
    headers = {"X-Razorpay-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
               "Content-Type": "application/json"}
    if event_id:
        headers["X-Razorpay-Event-Id"] = event_id
    return headers


def custom_headers(body: bytes, secret=CUSTOM_SECRET, msg_id=None, timestamp=None) -> dict:
    msg_id = msg_id or "msg_" + secrets.token_hex(8)
    t = int(time.time()) if timestamp is None else timestamp
    key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
    mac = base64.b64encode(hmac.new(key, f"{msg_id}.{t}.".encode() + body, hashlib.sha256).digest()).decode()
    return {"webhook-id": msg_id, "webhook-timestamp": str(t), "webhook-signature": f"v1,{mac}",
            "Content-Type": "application/json"}


def encode(payload: dict) -> bytes:
    return json.dumps(payload).encode()


# --- payloads as the providers send them (trimmed to what matters) ----------------------------

def stripe_event(event_type: str, obj: dict, created=None, previous=None, event_id=None) -> dict:
    data = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id or "evt_" + secrets.token_hex(8), "object": "event", "type": event_type,
            "created": int(time.time()) if created is None else created, "livemode": False, "data": data}


def stripe_subscription(customer="cus_A1", email="ada@example.com", amount=2900, quantity=1, interval="month",
                        currency="usd", **extra) -> dict:
    sub = {"id": "sub_" + customer[4:], "object": "subscription", "customer": customer, "currency": currency,
           "cancel_at_period_end": False, "metadata": {"email": email} if email else {},
           "items": {"object": "list", "data": [{"id": "si_1", "quantity": quantity, "price": {
               "id": "price_pro", "nickname": "Pro", "unit_amount": amount, "currency": currency,
               "recurring": {"interval": interval, "interval_count": 1}}}]}}
    sub.update(extra)
    return sub


def stripe_invoice(customer="cus_A1", email="ada@example.com", amount=2900, paid=True, currency="usd") -> dict:
    return {"id": "in_" + secrets.token_hex(6), "object": "invoice", "customer": customer, "customer_email": email,
            "currency": currency, "amount_due": amount, "amount_paid": amount if paid else 0,
            "lines": {"object": "list", "data": [{"id": "il_1", "amount": amount, "quantity": 1, "price": {
                "id": "price_pro", "nickname": "Pro", "unit_amount": amount, "currency": currency,
                "recurring": {"interval": "month", "interval_count": 1}}}]}}


def razorpay_event(event: str, customer="cust_R1", email="ravi@example.in", amount=49900, created=None,
                   with_payment=True) -> dict:
    payload = {"subscription": {"entity": {"id": "sub_R" + customer[-2:], "entity": "subscription",
                                           "plan_id": "plan_gold", "customer_id": customer, "status": "active",
                                           "notes": {"email": email} if email else []}}}
    if with_payment:
        payload["payment"] = {"entity": {"id": "pay_" + secrets.token_hex(6), "entity": "payment", "amount": amount,
                                         "currency": "INR", "status": "captured", "email": email,
                                         "customer_id": customer}}
    return {"entity": "event", "account_id": "acc_test", "event": event, "contains": list(payload),
            "payload": payload, "created_at": int(time.time()) if created is None else created}


# --- observing the outcome -----------------------------------------------------------------------

async def settled(project_id: str, timeout: float = 20.0) -> list[WebhookEvent]:
    """Wait until the project's actor has applied every stored event; return them all."""
    deadline = time.monotonic() + timeout
    while True:
        with unit_of_work():
            rows = list(WebhookEvent.select().where(WebhookEvent.project == project_id)
                        .order_by(WebhookEvent.received_at))
        if all(row.status != "received" for row in rows) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.02)


def churn_events(project_id: str) -> list[ChurnEvent]:
    with unit_of_work():
        return list(ChurnEvent.select().where(ChurnEvent.project == project_id).order_by(ChurnEvent.created_at))


def stored_count() -> int:
    with unit_of_work():
        return WebhookEvent.select().count()
