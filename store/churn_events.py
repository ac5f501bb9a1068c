"""Churn events: queries, and the state transitions the project actor applies.

Every transition is also guarded in the database (a conditional UPDATE, a partial unique index
on open events per customer), so that correctness never rests on one process's actor.
"""
from __future__ import annotations

import datetime as dt

import peewee

from handlers.errors import conflict, not_found
from store.db import transaction
from store.models import OPEN_STATUSES, ChurnEvent, Project, utcnow
from store.projects import project_settings
from store.serialize import dumps, iso, loads_object

SORT_FIELDS = ("created_at", "updated_at", "churned_at", "recovered_at", "mrr_cents", "customer_email", "status")
# Fields a new churn for a customer with an open event may change on that event.
UPDATABLE_ON_REPEAT = ("customer_name", "customer_id", "customer_email", "plan", "mrr_cents", "currency",
                       "cancel_reason", "cancel_reason_detail")


def lost_cutoff(lost_after_days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=lost_after_days)


def effective_status(event: ChurnEvent, cutoff: dt.datetime) -> str:
    """`lost` is applied by a periodic sweep and also on read, so nobody sees a stale `new`."""
    if event.status in OPEN_STATUSES and event.churned_at < cutoff:
        return "lost"
    return event.status


def churn_json(event: ChurnEvent, cutoff: dt.datetime) -> dict:
    return {
        "id": event.id,
        "customer_email": event.customer_email,
        "customer_name": event.customer_name,
        "customer_id": event.customer_id,
        "plan": event.plan,
        "mrr_cents": event.mrr_cents,
        "currency": event.currency,
        "cancel_reason": event.cancel_reason,
        "cancel_reason_detail": event.cancel_reason_detail,
        "source": event.source,
        "status": effective_status(event, cutoff),
        "churned_at": iso(event.churned_at),
        "recovered_at": iso(event.recovered_at),
        "recovered_mrr_cents": event.recovered_mrr_cents,
        "recovered_by_variant_id": event.recovered_by_variant_id,
        "saved": bool(event.saved),
        "metadata": loads_object(event.metadata),
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


def cutoff_for(project_id: str) -> dt.datetime:
    project = Project.get_by_id(project_id)
    return lost_cutoff(int(project_settings(project)["lost_after_days"]))


def event_json(project_id: str, event: ChurnEvent) -> dict:
    return churn_json(event, cutoff_for(project_id))


def get_event(project_id: str, event_id: str) -> ChurnEvent:
    event = ChurnEvent.get_or_none((ChurnEvent.id == event_id) & (ChurnEvent.project == project_id))
    if event is None:
        raise not_found("Churn event")
    return event


def find_open_event(project_id: str, customer_email: str | None, customer_id: str | None) -> ChurnEvent | None:
    conditions = []
    if customer_email:
        conditions.append(ChurnEvent.customer_email == customer_email.lower())
    if customer_id:
        conditions.append(ChurnEvent.customer_id == customer_id)
    if not conditions:
        return None
    match = conditions[0] if len(conditions) == 1 else (conditions[0] | conditions[1])
    return (ChurnEvent.select()
            .where((ChurnEvent.project == project_id) & ChurnEvent.status.in_(OPEN_STATUSES) & match)
            .order_by(ChurnEvent.created_at.desc()).first())


def record_churn(project_id: str, fields: dict) -> tuple[ChurnEvent, bool]:
    """Create a churn event, or update the customer's open one. Returns (event, created)."""
    if fields.get("customer_email"):
        fields = {**fields, "customer_email": fields["customer_email"].lower()}
    for attempt in range(3):
        try:
            with transaction():
                existing = find_open_event(project_id, fields.get("customer_email"), fields.get("customer_id"))
                if existing is None:
                    now = utcnow()
                    values = dict(fields)
                    values["metadata"] = dumps(values.get("metadata") or {})
                    values.setdefault("churned_at", now)
                    return ChurnEvent.create(project=project_id, created_at=now, updated_at=now, **values), True
                changes = {k: v for k, v in fields.items() if k in UPDATABLE_ON_REPEAT and v is not None}
                if fields.get("metadata"):
                    changes["metadata"] = dumps({**loads_object(existing.metadata), **fields["metadata"]})
                for key, value in changes.items():
                    setattr(existing, key, value)
                existing.updated_at = utcnow()
                existing.save()
                return existing, False
        except peewee.IntegrityError:
            # Another process opened an event for this customer between our read and insert:
            # the partial unique index refused the second; read again and update that one.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def mark_recovered(project_id: str, event_id: str, recovered_mrr_cents: int | None,
                   recovered_at: dt.datetime | None = None, variant_id: str | None = None) -> ChurnEvent:
    """Move an event to `recovered` from any state but `recovered` and `saved` (else 409).
    `recovered_by_variant_id` is `variant_id` if given, else the last variant sent (SPEC 5)."""
    from store.variants import last_sent_variant_id  # store.variants builds on this module

    with transaction():
        event = get_event(project_id, event_id)
        amount = event.mrr_cents if recovered_mrr_cents is None else recovered_mrr_cents
        variant_id = variant_id or last_sent_variant_id(event_id)
        now = utcnow()
        changed = (ChurnEvent.update(status="recovered", recovered_at=recovered_at or now,
                                     recovered_mrr_cents=amount, updated_at=now,
                                     recovered_by_variant_id=variant_id)
                   .where((ChurnEvent.id == event_id) & ChurnEvent.status.not_in(("recovered", "saved")))
                   .execute())
        if changed != 1:
            raise conflict(f"Churn event is already {event.status}")
        return ChurnEvent.get_by_id(event_id)


def update_cancel_reason(project_id: str, event_id: str, reason: str, detail: str | None,
                         detail_given: bool) -> ChurnEvent:
    with transaction():
        event = get_event(project_id, event_id)
        event.cancel_reason = reason
        if detail_given:
            event.cancel_reason_detail = detail
        event.updated_at = utcnow()
        event.save()
        return event


def list_events(project_id: str, filters: dict, sort: str, order: str, offset: int, limit: int) -> tuple[list[dict], int]:
    cutoff = cutoff_for(project_id)
    query = ChurnEvent.select().where(ChurnEvent.project == project_id)
    status = filters.get("status")
    if status == "lost":
        query = query.where((ChurnEvent.status == "lost")
                            | (ChurnEvent.status.in_(OPEN_STATUSES) & (ChurnEvent.churned_at < cutoff)))
    elif status in OPEN_STATUSES:
        query = query.where((ChurnEvent.status == status) & (ChurnEvent.churned_at >= cutoff))
    elif status:
        query = query.where(ChurnEvent.status == status)
    for name in ("source", "cancel_reason", "customer_id"):
        if filters.get(name):
            query = query.where(getattr(ChurnEvent, name) == filters[name])
    if filters.get("customer_email"):
        query = query.where(ChurnEvent.customer_email == filters["customer_email"].lower())
    if filters.get("created_after"):
        query = query.where(ChurnEvent.created_at >= filters["created_after"])
    if filters.get("created_before"):
        query = query.where(ChurnEvent.created_at < filters["created_before"])
    total = query.count()
    column = getattr(ChurnEvent, sort)
    ordering = [column.asc(nulls="last") if order == "asc" else column.desc(nulls="last"),
                ChurnEvent.id.asc() if order == "asc" else ChurnEvent.id.desc()]
    rows = query.order_by(*ordering).offset(offset).limit(limit)
    return [churn_json(event, cutoff) for event in rows], total


def sweep_lost(now: dt.datetime | None = None) -> int:
    """Mark open events past their project's `lost_after_days` as `lost` (guarded UPDATE)."""
    total = 0
    for project in Project.select(Project.id, Project.settings):
        cutoff = lost_cutoff(int(project_settings(project)["lost_after_days"]), now)
        with transaction():
            total += (ChurnEvent.update(status="lost", updated_at=utcnow())
                      .where((ChurnEvent.project == project.id) & ChurnEvent.status.in_(OPEN_STATUSES)
                             & (ChurnEvent.churned_at < cutoff))
                      .execute())
    return total

