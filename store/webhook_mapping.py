"""From a provider's payload to what it means for churn: a pure function, no database.

`normalize(provider, payload, occurred_at)` returns an `Action`: `churn` (open or update the
customer's churn event), `recovery` (close it), `payment_failed` (open or update a payment
recovery), `payment_paid` (close a payment recovery only) or `ignored`. A churn or recovery may
also close payment recoveries (`closes_payment`: a subscription the provider gave up on is
`failed`, a paid invoice or charged subscription `recovered`). Amounts come out in minor units per
month (`mrr_cents`) with an upper-cased currency (docs/webhooks.md). Looking up what the payload lacks (an
email known from an earlier event) is the store's job, not this module's.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field

from store.input_rules import YEARS, email_address, text_problem
from store.models import CANCEL_REASONS
from store.webhook_custom_schemas import custom_schema

HANDLED_TYPES = {
    "stripe": frozenset({"customer.subscription.deleted", "customer.subscription.updated",
                         "customer.subscription.created", "invoice.payment_failed", "invoice.paid",
                         "invoice.payment_succeeded"}),
    "razorpay": frozenset({"subscription.cancelled", "subscription.halted", "subscription.charged",
                           "subscription.activated", "subscription.pending", "payment.failed"}),
    "custom": frozenset({"churn", "recovered", "payment_failed", "payment_succeeded"}),
}
# The only types `normalize` may map to `closes_payment` "recovered" (a payment that settles a
# failed one): a failure applied while one of these, newer, waits to be applied reads its payload
# (webhook_effects.paid_since).
SETTLING_TYPES = {
    "stripe": frozenset({"invoice.paid", "invoice.payment_succeeded"}),
    "razorpay": frozenset({"subscription.charged"}),
    "custom": frozenset({"payment_succeeded"}),
}
# Stripe's cancellation_details.feedback -> our cancel_reason.
STRIPE_FEEDBACK = {
    "too_expensive": "too_expensive", "missing_features": "missing_features",
    "switched_service": "switched_competitor", "unused": "not_using", "customer_service": "poor_support",
    "too_complex": "technical_issues", "low_quality": "technical_issues", "other": "other",
}
# Billing intervals per month: an amount per interval times this is an amount per month.
_PER_MONTH = {"day": 365 / 12, "week": 52 / 12, "month": 1, "year": 1 / 12}


class MappingError(ValueError):
    """A signed payload of a handled type that lacks what we need (e.g. no customer at all)."""


@dataclass
class Action:
    kind: str  # churn | recovery | payment_failed | payment_paid | ignored
    occurred_at: dt.datetime | None = None
    customer_email: str | None = None
    customer_id: str | None = None
    customer_name: str | None = None
    plan: str | None = None
    mrr_cents: int | None = None  # churn: the MRR lost; recovery: the MRR won back
    currency: str | None = None
    cancel_reason: str | None = None
    cancel_reason_detail: str | None = None
    metadata: dict = field(default_factory=dict)
    note: str = ""  # why an event is ignored
    # payment_failed: the recovery's fields (invoice_id, subscription_id, amount_due_cents, currency,
    # attempt_count, update_payment_url); closing: what it matches (invoice_id or subscription_id)
    # and amount_cents paid.
    payment: dict = field(default_factory=dict)
    closes_payment: str | None = None  # "recovered" | "failed": payment recoveries this closes
    variant_id: str | None = None  # a recovery through an email's offer link names its variant

    def churn_fields(self, source: str) -> dict:
        """Fields for `store.churn_events.record_churn`. What the payload did not carry is left
        out, so it neither overwrites a known value of an open event nor breaks a default."""
        fields = {"source": source, "customer_email": self.customer_email, "customer_id": self.customer_id,
                  "customer_name": self.customer_name, "plan": self.plan, "cancel_reason": self.cancel_reason,
                  "cancel_reason_detail": self.cancel_reason_detail, "metadata": self.metadata}
        if self.mrr_cents is not None:
            fields["mrr_cents"] = self.mrr_cents
        if self.currency is not None:
            fields["currency"] = self.currency
        if self.occurred_at is not None:
            fields["churned_at"] = self.occurred_at
        return fields


def ignored(note: str) -> Action:
    return Action("ignored", note=note)


def from_unix(value) -> dt.datetime | None:
    """A provider's Unix time, or None when it is not one within the years the API takes."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        moment = dt.datetime.fromtimestamp(value, dt.timezone.utc).replace(tzinfo=None)
    except (OverflowError, OSError, ValueError):
        return None
    return moment if YEARS[0] <= moment.year <= YEARS[1] else None


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}  # Razorpay sends `notes: []` when empty


def _str(value, multiline: bool = False) -> str | None:
    """A provider's text, or None when it is empty or breaks the API's text rules (a control
    character, a lone surrogate, a line break where one line is expected): left out, not stored."""
    if not isinstance(value, str) or text_problem(value, multiline):
        return None
    return value.strip() or None


def _email(value) -> str | None:
    """One valid address by the API's rule, lower-cased; anything else (a list, a unicode local
    part) is left out: the event is stored without it, as if the provider had sent none."""
    text = _str(value)
    return email_address(text) if text else None


def _int(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return round(value)
    if isinstance(value, str):
        try:
            return round(float(value))
        except ValueError:
            return None
    return None


def _currency(value) -> str | None:
    text = _str(value)
    return text.upper() if text and len(text) == 3 and text.isalpha() else None


def monthly(amount: float, interval: str | None, count) -> int:
    """Minor units per month: yearly / 12, weekly x 52 / 12."""
    every = _int(count) or 1
    return round(amount * _PER_MONTH.get(interval or "month", 1) / every)


# --- Stripe ---------------------------------------------------------------------------------

def _stripe_price_mrr(price: dict, quantity) -> int | None:
    amount = price.get("unit_amount")
    if amount is None and price.get("unit_amount_decimal") is not None:
        amount = _int(price["unit_amount_decimal"])
    if amount is None:
        amount = price.get("amount")  # legacy `plan` objects
    if not isinstance(amount, (int, float)) or isinstance(amount, bool):
        return None
    recurring = _dict(price.get("recurring")) or price  # a legacy `plan` has its interval on itself
    qty = _int(quantity)
    return monthly(amount * (1 if qty is None else qty), recurring.get("interval"), recurring.get("interval_count"))


def _stripe_items_mrr(items: list) -> tuple[int | None, str | None, str | None]:
    """(monthly amount, currency, plan name) of subscription items or invoice lines."""
    total, currency, plan = None, None, None
    for item in items:
        item = _dict(item)
        price = _dict(item.get("price")) or _dict(item.get("plan"))
        if not (_dict(price.get("recurring")) or price.get("interval")):
            continue  # a one-off line, or a line that names its price by id only
        mrr = _stripe_price_mrr(price, item.get("quantity", 1))
        if mrr is None:
            continue
        total = (total or 0) + mrr
        currency = currency or _currency(price.get("currency"))
        plan = plan or _str(price.get("nickname")) or _str(price.get("lookup_key")) or _str(price.get("id"))
    return total, currency, plan


def _stripe_customer(obj: dict) -> tuple[str | None, str | None, str | None]:
    customer = obj.get("customer")
    expanded = _dict(customer)
    customer_id = _str(customer) or _str(expanded.get("id"))
    email = (_email(obj.get("customer_email")) or _email(_dict(obj.get("metadata")).get("email"))
             or _email(expanded.get("email")))
    name = _str(obj.get("customer_name")) or _str(expanded.get("name"))
    return customer_id, email, name


def _stripe_subscription(kind: str, obj: dict, when) -> Action:
    customer_id, email, name = _stripe_customer(obj)
    mrr, currency, plan = _stripe_items_mrr(_dict(obj.get("items")).get("data") or [])
    if mrr is None and obj.get("plan"):
        mrr, currency, plan = _stripe_items_mrr([{"plan": obj["plan"], "quantity": obj.get("quantity", 1)}])
    details = _dict(obj.get("cancellation_details"))
    reason = None
    if kind == "churn":
        reason = "payment_failed" if details.get("reason") == "payment_failed" else \
            STRIPE_FEEDBACK.get(details.get("feedback"))
    action = Action(kind, when, email, customer_id, name, plan, mrr, currency or _currency(obj.get("currency")),
                    reason, _str(details.get("comment"), multiline=True),
                    {"stripe_subscription_id": obj["id"]} if _str(obj.get("id")) else {},
                    variant_id=_str(_dict(obj.get("metadata")).get("windback_variant_id")))
    if reason == "payment_failed" and _str(obj.get("id")):
        action.closes_payment, action.payment = "failed", {"subscription_id": obj["id"]}
    return action


def _stripe_invoice(kind: str, obj: dict, when, amount_field: str) -> Action:
    customer_id, email, name = _stripe_customer(obj)
    mrr, currency, plan = _stripe_items_mrr(_dict(obj.get("lines")).get("data") or [])
    if mrr is None:
        mrr = _int(obj.get(amount_field))
    meta = {"stripe_invoice_id": obj["id"]} if _str(obj.get("id")) else {}
    subscription = obj.get("subscription") or _dict(_dict(obj.get("parent")).get("subscription_details")).get("subscription")
    if _str(subscription):
        meta["stripe_subscription_id"] = subscription
    action = Action(kind, when, email, customer_id, name, plan, mrr, currency or _currency(obj.get("currency")),
                    None, None, meta)
    invoice_id = _str(obj.get("id"))
    if kind == "payment_failed":
        if invoice_id is None:
            raise MappingError("the failed invoice has no id")
        action.payment = {"invoice_id": invoice_id, "subscription_id": _str(subscription),
                          "amount_due_cents": _int(obj.get("amount_due")) or 0,
                          "currency": _currency(obj.get("currency")) or currency or "USD",
                          "attempt_count": _int(obj.get("attempt_count")),
                          "update_payment_url": _url(obj.get("hosted_invoice_url"))}
    elif invoice_id:
        action.closes_payment = "recovered"
        action.payment = {"invoice_id": invoice_id, "amount_cents": _int(obj.get("amount_paid"))}
    return action


def _url(value) -> str | None:
    text = _str(value)
    return text if text and text.startswith(("https://", "http://")) and len(text) <= 2000 else None


def normalize_stripe(payload: dict) -> Action:
    event_type = payload.get("type")
    data = _dict(payload.get("data"))
    obj = _dict(data.get("object"))
    when = from_unix(payload.get("created"))
    if event_type == "customer.subscription.deleted":
        return _stripe_subscription("churn", obj, when)
    if event_type == "customer.subscription.created":
        return _stripe_subscription("recovery", obj, when)
    if event_type == "customer.subscription.updated":
        previous = _dict(data.get("previous_attributes"))
        if "cancel_at_period_end" not in previous or previous["cancel_at_period_end"] == obj.get("cancel_at_period_end"):
            return ignored("the update does not change cancel_at_period_end")
        return _stripe_subscription("churn" if obj.get("cancel_at_period_end") else "recovery", obj, when)
    if event_type == "invoice.payment_failed":  # not a churn: the provider retries (docs/dunning.md)
        return _stripe_invoice("payment_failed", obj, when, "amount_due")
    if event_type in ("invoice.paid", "invoice.payment_succeeded"):
        if not (_int(obj.get("amount_paid")) or 0) > 0:
            return ignored("an invoice of amount 0 is not a recovery")
        return _stripe_invoice("recovery", obj, when, "amount_paid")
    return ignored(f"Stripe events of type {event_type!r} are not used")


# --- Razorpay -------------------------------------------------------------------------------

def normalize_razorpay(payload: dict) -> Action:
    event_type = payload.get("event")
    inner = _dict(payload.get("payload"))
    subscription = _dict(_dict(inner.get("subscription")).get("entity"))
    payment = _dict(_dict(inner.get("payment")).get("entity"))
    subscription_id = _str(subscription.get("id")) or _str(payment.get("subscription_id"))
    if event_type in ("subscription.cancelled", "subscription.halted"):
        kind = "churn"
    elif event_type in ("subscription.charged", "subscription.activated"):
        kind = "recovery"
    elif event_type == "subscription.pending" or (event_type == "payment.failed" and subscription_id):
        kind = "payment_failed"
    elif event_type == "payment.failed":
        return ignored("a failed payment outside a subscription is not followed up")
    else:
        return ignored(f"Razorpay events of type {event_type!r} are not used")
    notes = _dict(subscription.get("notes"))
    email = _email(notes.get("email")) or _email(payment.get("email"))
    customer_id = _str(subscription.get("customer_id")) or _str(payment.get("customer_id"))
    amount = _int(payment.get("amount"))  # paise: already minor units
    meta = {"razorpay_subscription_id": subscription_id} if subscription_id else {}
    reason = "payment_failed" if event_type == "subscription.halted" else \
        (_str(notes.get("cancel_reason")) if _str(notes.get("cancel_reason")) in CANCEL_REASONS else None)
    currency = _currency(payment.get("currency")) or "INR"
    action = Action(kind, from_unix(payload.get("created_at")), email, customer_id,
                    _str(notes.get("name")), _str(subscription.get("plan_id")), amount,
                    currency, reason if kind == "churn" else None, None, meta)
    if kind == "payment_failed":
        # One charge of the subscription; a pending subscription without the payment entity is
        # named by its billing cycle (an open recovery of the subscription is matched first).
        cycle = subscription.get("current_start") or subscription.get("charge_at") or payload.get("created_at")
        action.payment = {"invoice_id": _str(payment.get("invoice_id")) or f"{subscription_id}@{cycle}",
                          "subscription_id": subscription_id, "amount_due_cents": amount or 0,
                          "currency": currency, "attempt_count": None,
                          "update_payment_url": _url(subscription.get("short_url"))}
    elif subscription_id and event_type in ("subscription.halted", "subscription.charged"):
        action.closes_payment = "failed" if event_type == "subscription.halted" else "recovered"
        action.payment = {"subscription_id": subscription_id, "amount_cents": amount}
    return action


def razorpay_event_identity(event: dict, body: bytes) -> str:
    """What makes a Razorpay delivery unique: the event name, its `created_at` and the id of
    every entity it carries (subscription, payment...), hashed; without any entity id, the
    body's SHA-256. Never the `X-Razorpay-Event-Id` header: it is outside the signature, so a
    captured body replayed under a new header would count as new (docs/webhooks.md)."""
    entities = sorted((name, entity["id"]) for name, wrapper in _dict(event.get("payload")).items()
                      if isinstance(entity := _dict(wrapper).get("entity"), dict) and _str(entity.get("id")))
    if not entities:
        return hashlib.sha256(body).hexdigest()
    identity = json.dumps([event.get("event"), event.get("created_at"), entities], separators=(",", ":"))
    return "rzp:" + hashlib.sha256(identity.encode("utf-8")).hexdigest()


# --- custom (Standard Webhooks; the schemas are store.webhook_custom_schemas) ---------------

def normalize_custom(payload: dict, occurred_at: dt.datetime | None) -> Action:
    schema = custom_schema(payload)
    if schema is None:
        return ignored(f"custom events of type {payload.get('type')!r} are not used")
    values = schema.clean(payload)  # the handler validated it; replay validates again
    currency = _currency(values.get("currency"))
    if values["type"] == "payment_failed":
        action = Action("payment_failed", occurred_at, values["customer_email"], values.get("customer_id"),
                        values.get("customer_name"))
        action.payment = {"invoice_id": values["invoice_id"], "subscription_id": values.get("subscription_id"),
                          "amount_due_cents": values["amount_due_cents"], "currency": currency or "USD",
                          "attempt_count": values.get("attempt_count"),
                          "update_payment_url": values["update_payment_url"]}
        return action
    if values["type"] == "payment_succeeded":
        return Action("payment_paid", occurred_at, closes_payment="recovered",
                      payment={"invoice_id": values["invoice_id"], "amount_cents": values.get("amount_paid_cents")})
    if values["type"] == "recovered":
        return Action("recovery", occurred_at, values.get("customer_email"), values.get("customer_id"),
                      mrr_cents=values.get("recovered_mrr_cents"), currency=currency)
    return Action("churn", values.get("churned_at") or occurred_at, values.get("customer_email"),
                  values.get("customer_id"), values.get("customer_name"), values.get("plan"),
                  values.get("mrr_cents"), currency, values.get("cancel_reason"),
                  values.get("cancel_reason_detail"), values.get("metadata") or {})


def normalize(provider: str, payload, occurred_at: dt.datetime | None = None) -> Action:
    if not isinstance(payload, dict):
        raise MappingError("the event body is not a JSON object")
    if provider == "stripe":
        action = normalize_stripe(payload)
    elif provider == "razorpay":
        action = normalize_razorpay(payload)
    else:
        action = normalize_custom(payload, occurred_at)
    if action.kind not in ("ignored", "payment_paid") and not (action.customer_id or action.customer_email):
        raise MappingError("the event names no customer (no customer id and no email)")
    return action
