"""What a stored webhook event does to churn events and payment recoveries, applied exactly once.

`apply_stored_event` claims the stored event, maps its payload (`store.webhook_mapping`),
changes the churn events and marks the stored event `processed`, all in one transaction: the
effect and the mark commit together or not at all, so applying the same stored event again (a
replay, a second process) changes nothing. A failure rolls the attempt back and records
`failed` with the error.

Order (docs/webhooks.md): events are applied by the provider's own time `T`.
- A recovery closes the customer's open churn event only if it is not older than the churn
  (`churned_at <= T`); otherwise, or when there is no open event, it is kept as an unmatched
  recovery.
- A churn that falls inside an already recovered episode of the customer (churned_at <= T <=
  recovered_at) changes nothing; one for a customer with an open event updates it (only with data
  newer than what was applied last); one older than an unmatched recovery of the customer is
  recorded already `recovered` by that recovery; anything else opens a new churn event.

A failed payment is not a churn: it opens (or counts another attempt of) a payment recovery
(`store/payment_recoveries.py`), and the churn comes when the provider gives up on the
subscription, which also closes the recovery `failed`. A paid invoice or charged subscription
closes it `recovered`.
"""
from __future__ import annotations

import itertools
import json
import logging

import peewee

from store.webhook_mapping import SETTLING_TYPES, Action, normalize
from store import churn_events, payment_recoveries, webhooks
from store.db import transaction
from store.models import OPEN_STATUSES, ChurnEvent, utcnow
from store.raw_sql import prepared

log = logging.getLogger("windback.webhooks")
# Waiting events a failure looks at for a payment that settles it (the nearest in provider time
# after it): a burst of waiting deliveries must not make every failure in it read them all.
WAITING_LOOKED_AT = 50


def apply_stored_event(webhook_event_id: str) -> str:
    """Apply one stored event; returns its status afterwards (`processed`, `ignored`, `failed`).
    An event that already took effect is left alone and answers `processed`."""
    try:
        with transaction():
            row = webhooks.claim(webhook_event_id)
            if row is None:
                return "processed"
            action = normalize(row.provider, json.loads(row.payload), row.occurred_at)
            if action.kind == "ignored":
                webhooks.finish(webhook_event_id, "ignored", action="ignored")
                return "ignored"
            project_id = row.project_id
            if not action.customer_email and action.customer_id:
                action.customer_email = email_known_for(project_id, action.customer_id)
            action.occurred_at = action.occurred_at or utcnow()
            if action.kind in ("payment_failed", "payment_paid"):
                apply_payment(project_id, row.provider, action)
                webhooks.finish(webhook_event_id, "processed", action=action.kind, customer_id=action.customer_id,
                                customer_email=action.customer_email,
                                amount_cents=action.payment.get("amount_due_cents"))
                return "processed"
            # Every earlier churn event of the customer, in one query; the rules below read it.
            history = customer_history(project_id, action)
            if action.kind == "churn":
                event_id = apply_churn(project_id, action, row.provider, history)
            else:
                event_id = apply_recovery(project_id, action, history)
            if action.closes_payment:
                apply_payment(project_id, row.provider, action)
            if action.customer_email and action.customer_id:
                fill_missing_email(action, history)
            webhooks.finish(webhook_event_id, "processed", action=action.kind, customer_id=action.customer_id,
                            customer_email=action.customer_email, amount_cents=action.mrr_cents,
                            churn_event_id=event_id)
            return "processed"
    except Exception as error:  # noqa: BLE001 - recorded on the event, retried by the replay script
        message = f"{type(error).__name__}: {error}"
        log.warning("webhook event %s failed: %s", webhook_event_id, message)
        with transaction():
            webhooks.mark_failed(webhook_event_id, message)
        return "failed"


def email_known_for(project_id: str, customer_id: str) -> str | None:
    """The customer's email from an earlier event of the same customer id, if any."""
    found = webhooks.email_for_customer_id(project_id, customer_id)
    if found:
        return found
    # Filtered here rather than with IS NOT NULL, which steered SQLite to the email index.
    events = (ChurnEvent.select(ChurnEvent.customer_email, ChurnEvent.created_at)
              .where((ChurnEvent.project == project_id) & (ChurnEvent.customer_id == customer_id)).tuples())
    known = sorted(((created, email) for email, created in events if email), reverse=True)
    return known[0][1] if known else None


def fill_missing_email(action: Action, history: list[ChurnEvent]) -> None:
    """Events of this customer created before the email was known get it now."""
    for event in history:
        if event.customer_email is not None or event.customer_id != action.customer_id:
            continue
        try:
            with transaction():  # a savepoint: a clash with another open event skips this one
                churn_events.fill_missing_email(event.id, action.customer_email)
        except peewee.IntegrityError:
            log.info("not filling email of churn event %s: the customer has another open event", event.id)


def newest(events: list[ChurnEvent]) -> ChurnEvent | None:
    return max(events, key=lambda event: (event.created_at, event.id)) if events else None


def customer_history(project_id: str, action: Action) -> list[ChurnEvent]:
    """Every churn event of the action's customer, by email or by customer id, as a top-level OR
    so that SQLite searches the (project, customer_email) and (project, customer_id) indexes."""
    given = {name: value for name, value in (("customer_email", action.customer_email),
                                             ("customer_id", action.customer_id)) if value}

    def build(slot):
        match = [(ChurnEvent.project == slot("project")) & (getattr(ChurnEvent, name) == slot(name)) for name in given]
        return ChurnEvent.select().where(match[0] if len(match) == 1 else (match[0] | match[1]))

    return prepared(("customer-history", tuple(given)), build).rows(ChurnEvent, project=project_id, **given)


def apply_churn(project_id: str, action: Action, source: str, history: list[ChurnEvent]) -> str:
    when = action.occurred_at
    episode = newest([event for event in history if event.status == "recovered"
                      and event.churned_at <= when and event.recovered_at is not None and event.recovered_at >= when])
    if episode is not None:
        return episode.id  # part of a churn that is already won back: nothing to change
    fields = action.churn_fields(source)
    existing = newest([event for event in history if event.status in OPEN_STATUSES])
    if existing is not None:
        if existing.source_event_at is None or existing.source_event_at <= when:
            churn_events.record_churn(project_id, fields)  # newer data: update the open event
            churn_events.note_provider_time(existing.id, when)
        return existing.id
    recovery = webhooks.pending_recovery(project_id, action.customer_id, action.customer_email, when)
    event, created = churn_events.record_churn(project_id, {**fields, "source_event_at": when})
    if not created:
        churn_events.note_provider_time(event.id, when)
    if recovery is not None:
        # The recovery arrived first: the churn is recorded already recovered by it.
        churn_events.mark_recovered(project_id, event.id, recovery.amount_cents, recovered_at=recovery.occurred_at)
        (webhooks.WebhookEvent.update(churn_event_id=event.id)
         .where(webhooks.WebhookEvent.id == recovery.id).execute())
    return event.id


def apply_recovery(project_id: str, action: Action, history: list[ChurnEvent]) -> str | None:
    when = action.occurred_at
    existing = newest([event for event in history if event.status in OPEN_STATUSES])
    if existing is None or existing.churned_at > when:
        return None  # nothing to close yet (or only a newer churn): kept as an unmatched recovery
    churn_events.mark_recovered(project_id, existing.id, action.mrr_cents, recovered_at=when,
                                variant_id=_variant_of(existing.id, action.variant_id))
    churn_events.note_provider_time(existing.id, when)
    return existing.id


def apply_payment(project_id: str, provider: str, action: Action) -> None:
    """Open (or count another attempt of) a payment recovery, or close the ones an event ends."""
    if action.kind == "payment_failed":
        if paid_since(project_id, provider, action):
            return  # delivered after the payment that settled it: nothing to recover
        fields = {**action.payment, "customer_email": action.customer_email, "customer_id": action.customer_id,
                  "customer_name": action.customer_name}
        payment_recoveries.open_recovery(project_id, provider, fields, action.occurred_at)
        return
    payment_recoveries.close_matching(project_id, provider, action.closes_payment, action.occurred_at,
                                      invoice_id=action.payment.get("invoice_id"),
                                      subscription_id=action.payment.get("subscription_id"),
                                      amount_cents=action.payment.get("amount_cents"))


def paid_since(project_id: str, provider: str, failure: Action) -> bool:
    """Deliveries arrive in any order: has a payment (at or after the failure's time) settled the
    failed invoice, or charged its subscription? Looks at the customer's few applied payment
    events (by the customer index), and at the project's stored events of a settling type that
    wait to be applied (a drain applies the older failure first when both are waiting), matching
    the invoice or subscription in each payload."""
    invoice, subscription = failure.payment.get("invoice_id"), failure.payment.get("subscription_id")
    W = webhooks.WebhookEvent
    since = (W.project == project_id) & (W.provider == provider) & (W.occurred_at >= failure.occurred_at)
    # A custom `payment_succeeded` names only the invoice: stored without a customer.
    match = since & W.customer_id.is_null() & (W.action == "payment_paid")
    if failure.customer_id:
        match = match | (since & (W.customer_id == failure.customer_id) & (W.action == "recovery"))
    applied = W.select(W.payload).where(match)
    # The nearest waiting events by the (project, status, occurred_at) index, any type, so that a
    # burst of waiting failures costs each failure a bounded read; payloads only of settling ones.
    nearest = (W.select(W.id, W.event_type).where(since & (W.status == "received"))
               .order_by(W.occurred_at).limit(WAITING_LOOKED_AT).tuples())
    settling = [event_id for event_id, event_type in nearest if event_type in SETTLING_TYPES[provider]]
    waiting = W.select(W.payload).where(W.id.in_(settling)) if settling else []
    for row in itertools.chain(applied, waiting):
        later = normalize(provider, json.loads(row.payload), failure.occurred_at)
        if later.closes_payment != "recovered":
            continue
        if invoice and later.payment.get("invoice_id") == invoice:
            return True
        if subscription and later.payment.get("subscription_id") == subscription:
            return True
    return False


def _variant_of(event_id: str, variant_id: str | None) -> str | None:
    """The variant a Checkout started from an email's link names, if it is this event's."""
    from store.variants import Variant

    if variant_id and Variant.select().where((Variant.id == variant_id) & (Variant.churn_event == event_id)).exists():
        return variant_id
    return None
