"""What a custom sender (Standard Webhooks) may send: one schema per event type, checked by the
webhook handler before a delivery is stored (400 with `details` otherwise) and again when the
stored event is applied (`store.webhook_mapping.normalize_custom`). docs/webhooks.md lists them.
"""
from __future__ import annotations

from store.models import CANCEL_REASONS
from store.validation import Choice, Email, Integer, JsonObject, Schema, String, Timestamp

CUSTOM_CHURN = Schema({
    "type": Choice(("churn",), required=True),
    "customer_email": Email(nullable=True, invalid_as_null=True),
    "customer_name": String(max_length=200, nullable=True),
    "customer_id": String(max_length=200, nullable=True),
    "plan": String(max_length=200, nullable=True),
    "mrr_cents": Integer(minimum=0, maximum=10**12, nullable=True),
    "currency": String(min_length=3, max_length=3, pattern=r"[A-Za-z]{3}", nullable=True,
                       pattern_message="must be a 3-letter ISO 4217 code, e.g. USD"),
    "cancel_reason": Choice(CANCEL_REASONS, nullable=True),
    "cancel_reason_detail": String(max_length=5000, nullable=True, multiline=True),
    "churned_at": Timestamp(past_only=True, nullable=True),
    "metadata": JsonObject(max_bytes=16384, nullable=True),
}, check=lambda v: [] if v.get("customer_email") or v.get("customer_id") else
    [{"field": "customer_email", "message": "customer_email or customer_id is required"}])
CUSTOM_RECOVERED = Schema({
    "type": Choice(("recovered",), required=True),
    "customer_email": Email(nullable=True, invalid_as_null=True),
    "customer_id": String(max_length=200, nullable=True),
    "recovered_mrr_cents": Integer(minimum=0, maximum=10**12, nullable=True),
    "currency": String(min_length=3, max_length=3, pattern=r"[A-Za-z]{3}", nullable=True),
}, check=CUSTOM_CHURN.check)


CUSTOM_PAYMENT_FAILED = Schema({
    "type": Choice(("payment_failed",), required=True),
    "customer_email": Email(required=True),
    "customer_name": String(max_length=200, nullable=True),
    "customer_id": String(max_length=200, nullable=True),
    "invoice_id": String(min_length=1, max_length=200, required=True),
    "subscription_id": String(max_length=200, nullable=True),
    "amount_due_cents": Integer(minimum=0, maximum=10**12, required=True),
    "currency": CUSTOM_CHURN.fields["currency"],
    "attempt_count": Integer(minimum=1, maximum=1000, nullable=True),
    "update_payment_url": String(max_length=2000, pattern=r"https?://\S+", required=True,
                                 pattern_message="must be an http:// or https:// URL"),
})
CUSTOM_PAYMENT_SUCCEEDED = Schema({
    "type": Choice(("payment_succeeded",), required=True),
    "invoice_id": String(min_length=1, max_length=200, required=True),
    "amount_paid_cents": Integer(minimum=0, maximum=10**12, nullable=True),
})


def custom_schema(payload) -> Schema | None:
    kind = payload.get("type") if isinstance(payload, dict) else None
    return {"churn": CUSTOM_CHURN, "recovered": CUSTOM_RECOVERED, "payment_failed": CUSTOM_PAYMENT_FAILED,
            "payment_succeeded": CUSTOM_PAYMENT_SUCCEEDED}.get(kind)
