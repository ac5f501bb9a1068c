"""Outbound webhooks, the request side: emitting an event, and what a delivery looks like.

Two ways to emit, one rule (docs/outbound-webhooks.md, "Emitting"):
- Inside the transaction of the change (store functions, actor commands):
  `store.outbound.record_event(project_id, type, data)`. The deliveries commit with the change.
  Churn events, variants and the cancel flow do this in the store.
- After a change committed, from code that holds no transaction: `await emit(ctx, project_id,
  type, data)`. It writes the deliveries in a transaction of their own and wakes the scheduler.

Either way the delivery itself is a scheduled job (`services/outbound_delivery.py`) that runs
only once its row is committed, so nothing is sent for a change that did not commit.
"""
from __future__ import annotations

import datetime as dt
import json
import time

from services.webhooks.verify import sign_standard
from store import outbound
from store.db import run_db


async def emit(ctx, project_id: str, event_type: str, data: dict,
               occurred_at: dt.datetime | None = None) -> list[str]:
    """Queue `event_type` for the project's endpoints after a change committed; returns the
    delivery ids. `data` is the resource as the API shows it."""
    ids = await run_db(outbound.record_event, project_id, event_type, data, occurred_at)
    if ids:
        wake_scheduler(ctx)
    return ids


def wake_scheduler(ctx) -> None:
    scheduler = ctx.extras.get("scheduler")
    if scheduler is not None:
        scheduler.wake()


class DeliveryWaker:
    """Told after every actor command (`ctx.data_changed`): when this process queued
    deliveries since the last time, the scheduler looks at once instead of at its next poll. A
    comparison of two integers when nothing was queued."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.seen = outbound.queued_count()

    def forget_project(self, project_id: str) -> None:
        queued = outbound.queued_count()
        if queued != self.seen:
            self.seen = queued
            wake_scheduler(self.ctx)


def watch_for_deliveries(ctx) -> None:
    ctx.service("outbound_waker", lambda: DeliveryWaker(ctx), forgets_data=True)


# --- what is sent ---------------------------------------------------------------------------

def standard_request(delivery_id: str, secret: str, body: str, now: float | None = None) -> tuple[bytes, dict]:
    """The body and Standard Webhooks headers of one attempt: `webhook-id` is the delivery id
    (the same at every attempt), `webhook-timestamp` the attempt's time."""
    raw = body.encode("utf-8")
    timestamp = int(now if now is not None else time.time())
    return raw, {"Content-Type": "application/json", "webhook-id": delivery_id,
                 "webhook-timestamp": str(timestamp),
                 "webhook-signature": sign_standard(secret, delivery_id, timestamp, raw)}


def slack_request(event: dict, public_url: str, project_slug: str) -> tuple[bytes, dict]:
    return (json.dumps({"text": slack_text(event, public_url, project_slug)}).encode("utf-8"),
            {"Content-Type": "application/json"})


def _money(cents: int | None, currency: str | None) -> str:
    if cents is None:
        return "unknown MRR"
    return f"{cents / 100:,.2f} {currency or 'USD'}"


def _who(data: dict) -> str:
    name, email, customer_id = data.get("customer_name"), data.get("customer_email"), data.get("customer_id")
    if name and email:
        return f"{name} ({email})"
    return name or email or customer_id or "A customer"


def _reason(event: dict) -> str:
    reason = event.get("cancel_reason") or event.get("reason")
    return reason.replace("_", " ") if reason else "no reason given"


_HEADLINES = {
    "churn_event.created": ":warning: {who} cancelled: {mrr}/month, reason: {reason}.",
    "churn_event.recovered": ":tada: {who} came back: {recovered}/month recovered.",
    "churn_event.saved": ":raised_hands: {who} accepted an offer and stays: {mrr}/month kept.",
    "churn_event.lost": ":x: {who} was not won back: {mrr}/month lost (reason: {reason}).",
    "cancel_flow.submitted": ":memo: {who} answered the cancel flow: {reason}{accepted}.",
    "variant.sent": ":email: A win-back email ({strategy}, {tone}) went to {who}.",
    "payment_recovery.opened": ":credit_card: A payment of {due} by {who} failed; dunning started.",
    "payment_recovery.recovered": ":moneybag: {who} paid {due} after a failed payment.",
    "payment_recovery.failed": ":x: {who} did not pay {due}; the subscription ended.",
    "billing_action.applied": ":white_check_mark: A {kind} offer was applied for {who}.",
    "billing_action.failed": ":warning: A {kind} offer could not be applied for {who}: {error}.",
    "customer.at_risk": ":rotating_light: {who} is at high risk of churning.",
    outbound.TEST_EVENT: ":wave: A test event from Windback: this Slack webhook works.",
}


def slack_text(event: dict, public_url: str, project_slug: str) -> str:
    """One Slack message per event: who, how much, why, and a link to it in the dashboard."""
    data = event.get("data") or {}
    churn = data.get("churn_event") if isinstance(data.get("churn_event"), dict) else data
    values = {
        "who": _who(churn if churn.get("customer_email") or churn.get("customer_name") else data),
        "mrr": _money(churn.get("mrr_cents"), churn.get("currency")),
        "recovered": _money(churn.get("recovered_mrr_cents", churn.get("mrr_cents")), churn.get("currency")),
        "reason": _reason(churn if churn.get("cancel_reason") else data),
        "accepted": ", offer accepted" if data.get("offer_accepted") else "",
        "strategy": str(data.get("strategy", "")).replace("_", " "), "tone": data.get("tone", ""),
        "due": _money(data.get("amount_due_cents"), data.get("currency")),
        "kind": data.get("kind", ""), "error": data.get("error") or "no reason given",
    }
    text = _HEADLINES.get(event.get("type"), "{type}").format(type=event.get("type"), **values)
    link = dashboard_link(str(event.get("type")), data, public_url, project_slug)
    return f"{text} <{link}|Open in Windback>"


def dashboard_link(event_type: str, data: dict, public_url: str, project_slug: str) -> str:
    """The churn event's page when the event is about one, else the project's overview."""
    if event_type.startswith("churn_event."):
        event_id = data.get("id")
    else:
        nested = data.get("churn_event") if isinstance(data.get("churn_event"), dict) else {}
        event_id = data.get("churn_event_id") or nested.get("id")
    base = f"{public_url}/app/projects/{project_slug}"
    return f"{base}/events/{event_id}" if event_id else base
