"""Stored webhook deliveries (docs/webhooks.md): the raw verified event, unique per project, provider and
provider event id, and where its processing stands.

`store_deliveries` is the group committer's writer: a whole batch of verified deliveries in one
transaction, each answered `duplicate` or not. Uniqueness is the database's (a unique index), so
two processes that receive the same event at once still store it once. Status:
`received` (stored, not yet applied) -> `processed` | `ignored` | `failed` (error kept, retried
by `scripts/replay_webhooks.py`).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Sequence

import peewee

from store.db import database
from store.models import BaseModel, Project, new_id, utcnow
from store.raw_sql import insert_params, insert_sql, prepared

PROVIDERS = ("stripe", "razorpay", "custom")
WEBHOOK_STATUSES = ("received", "processed", "ignored", "failed")
# Not yet applied: what the replay script picks up (`--failed`: only the failed ones).
UNFINISHED = ("received", "failed")


class WebhookEvent(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("whe"))
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    provider = peewee.CharField(max_length=16)
    event_id = peewee.CharField(max_length=255)  # the provider's id of the event
    event_type = peewee.CharField(max_length=120)
    payload = peewee.TextField()  # the raw body, exactly as signed
    occurred_at = peewee.DateTimeField(null=True)  # the provider's own timestamp (ordering)
    received_at = peewee.DateTimeField(default=utcnow)
    processed_at = peewee.DateTimeField(null=True)
    status = peewee.CharField(max_length=16, default="received")
    error = peewee.TextField(null=True)
    attempts = peewee.IntegerField(default=0)
    # Filled when applied: whom it concerned, what it did, and which churn event it touched.
    action = peewee.CharField(max_length=16, null=True)  # churn | recovery | ignored
    customer_id = peewee.CharField(max_length=200, null=True)
    customer_email = peewee.CharField(max_length=254, null=True)
    amount_cents = peewee.BigIntegerField(null=True)
    churn_event_id = peewee.CharField(max_length=40, null=True)

    class Meta:
        table_name = "webhook_events"
        indexes = (
            (("project", "provider", "event_id"), True),
            (("project", "status", "occurred_at"), False),
            (("status",), False),
            # Earlier events of a customer (email lookup, unmatched recoveries): three equalities
            # and a range, so the planner prefers them to the status index above.
            (("project", "customer_id", "action", "occurred_at"), False),
            (("project", "customer_email", "action", "occurred_at"), False),
        )


@dataclass(frozen=True)
class Delivery:
    """A verified delivery, ready to store."""

    project_id: str
    provider: str
    event_id: str
    event_type: str
    payload: str
    occurred_at: dt.datetime | None
    status: str = "received"  # `ignored` when the type is one we never act on


@dataclass(frozen=True)
class Stored:
    id: str  # the stored row (the first delivery's, for a duplicate)
    duplicate: bool
    status: str


def store_deliveries(deliveries: Sequence[Delivery]) -> list[Stored]:
    """Insert a batch in the caller's transaction; one `Stored` per delivery, in order.

    Rows get their ids here and go in with INSERT ... ON CONFLICT DO NOTHING RETURNING id: a
    returned id was stored by this call; any other delivery was already there (delivered before,
    earlier in this batch, or by another process at the same moment) and is looked up."""
    now = utcnow()
    ours: dict[tuple, dict] = {}
    for delivery in deliveries:
        key = (delivery.project_id, delivery.provider, delivery.event_id)
        if key not in ours:
            ignored = delivery.status == "ignored"
            ours[key] = {
                "id": new_id("whe"), "project": delivery.project_id, "provider": delivery.provider,
                "event_id": delivery.event_id, "event_type": delivery.event_type[:120],
                "payload": delivery.payload, "occurred_at": delivery.occurred_at, "received_at": now,
                "status": delivery.status, "attempts": 0, "processed_at": now if ignored else None,
                "action": "ignored" if ignored else None,
            }
    rows = list(ours.values())
    inserted: set[str] = set()
    for start in range(0, len(rows), 100):
        inserted.update(_insert_ignoring_duplicates(rows[start:start + 100]))
    stored = {key: (row["id"], row["status"]) for key, row in ours.items() if row["id"] in inserted}
    stored.update(_existing([key for key in ours if key not in stored]))
    results, answered = [], set()
    for delivery in deliveries:
        key = (delivery.project_id, delivery.provider, delivery.event_id)
        row_id, status = stored[key]
        fresh = row_id in inserted and key not in answered
        answered.add(key)
        results.append(Stored(row_id, not fresh, status))
    return results


def _existing(keys: list[tuple]) -> dict[tuple, tuple[str, str]]:
    """(row id, status) of already stored events, looked up through the unique index."""
    found = {}
    for project_id, provider, event_id in keys:
        row = (WebhookEvent.select(WebhookEvent.id, WebhookEvent.status)
               .where((WebhookEvent.project == project_id) & (WebhookEvent.provider == provider)
                      & (WebhookEvent.event_id == event_id)).tuples().first())
        found[(project_id, provider, event_id)] = row
    return found


_FIELDS = ("id", "project", "provider", "event_id", "event_type", "payload", "occurred_at", "received_at",
           "status", "attempts", "processed_at", "action")


def _insert_ignoring_duplicates(rows: list[dict]) -> list[str]:
    """Insert rows, skipping events already stored; returns the ids actually inserted. One
    INSERT ... ON CONFLICT DO NOTHING RETURNING id (SQLite 3.35+ and PostgreSQL alike), its SQL
    built once per size (store/raw_sql.py): peewee's `insert_many` spent ~200 us a row building
    SQL here, most of a delivery's budget."""
    sql = insert_sql(WebhookEvent, _FIELDS, len(rows), suffix=' ON CONFLICT DO NOTHING RETURNING "id"')
    params = insert_params(WebhookEvent, _FIELDS, [[row[name] for name in _FIELDS] for row in rows])
    return [row[0] for row in database.obj.execute_sql(sql, params).fetchall()]


def claim(webhook_event_id: str) -> WebhookEvent | None:
    """Start applying an event in the caller's transaction: count the attempt and return the row,
    unless it already took effect (None). On PostgreSQL the row stays locked until commit, so a
    second processor of the same event waits here and then finds it `processed`."""
    statement = prepared(("webhook-claim",), lambda slot: (
        WebhookEvent.update(attempts=WebhookEvent.attempts + 1)
        .where((WebhookEvent.id == slot("id")) & (WebhookEvent.status != "processed"))
        .returning(WebhookEvent)), id=WebhookEvent.id)
    rows = statement.rows(WebhookEvent, id=webhook_event_id)
    return rows[0] if rows else None


def finish(webhook_event_id: str, status: str, **fields) -> None:
    """Record the outcome of applying an event (`fields`: what it was about)."""
    changes = {"status": status, "processed_at": utcnow(), "error": None, **fields}
    statement = prepared(("webhook-finish", tuple(sorted(changes))), lambda slot: (
        WebhookEvent.update(**{name: slot(name) for name in changes}).where(WebhookEvent.id == slot("id"))),
        id=WebhookEvent.id, **{name: getattr(WebhookEvent, name) for name in changes})
    statement.execute(id=webhook_event_id, **changes)


def mark_failed(webhook_event_id: str, error: str) -> None:
    """Record a failed attempt (its own transaction: the attempt's changes were rolled back)."""
    (WebhookEvent.update(status="failed", error=error[:2000], attempts=WebhookEvent.attempts + 1,
                         processed_at=None)
     .where((WebhookEvent.id == webhook_event_id) & (WebhookEvent.status != "processed")).execute())


def pending_ids(project_id: str, limit: int = 200) -> list[str]:
    """Events of a project stored but not yet applied, oldest provider time first."""
    query = (WebhookEvent.select(WebhookEvent.id)
             .where((WebhookEvent.project == project_id) & (WebhookEvent.status == "received"))
             .order_by(WebhookEvent.occurred_at.asc(nulls="last"), WebhookEvent.received_at.asc())
             .limit(limit))
    return [row[0] for row in query.tuples()]


def projects_with_unapplied(received_before: dt.datetime) -> list[str]:
    """Projects holding events stored before `received_before` and still not applied (e.g. the
    server stopped between the answer and the actor)."""
    query = (WebhookEvent.select(WebhookEvent.project).distinct()
             .where((WebhookEvent.status == "received") & (WebhookEvent.received_at < received_before)))
    return [row[0] for row in query.tuples()]


def replay_candidates(project_id: str | None = None, failed_only: bool = False) -> list[tuple[str, str]]:
    """(project id, event id) of every event that has not taken effect, in provider-time order."""
    statuses = ("failed",) if failed_only else UNFINISHED
    query = WebhookEvent.select(WebhookEvent.project, WebhookEvent.id).where(WebhookEvent.status.in_(statuses))
    if project_id is not None:
        query = query.where(WebhookEvent.project == project_id)
    query = query.order_by(WebhookEvent.occurred_at.asc(nulls="last"), WebhookEvent.received_at.asc())
    return [(row[0], row[1]) for row in query.tuples()]


def email_for_customer_id(project_id: str, customer_id: str) -> str | None:
    """The email an earlier applied event of this customer carried, if any."""
    rows = (WebhookEvent.select(WebhookEvent.customer_email)
            .where((WebhookEvent.project == project_id) & (WebhookEvent.customer_id == customer_id)
                   & WebhookEvent.action.in_(("churn", "recovery")))
            .order_by(WebhookEvent.occurred_at.desc()).limit(50).tuples())
    return next((email for (email,) in rows if email), None)


def pending_recovery(project_id: str, customer_id: str | None, customer_email: str | None,
                     after: dt.datetime) -> WebhookEvent | None:
    """The newest applied recovery of this customer, not older than `after`, that closed no churn
    event (it arrived before the churn it belongs to)."""
    given = {name: value for name, value in (("customer_id", customer_id), ("customer_email", customer_email)) if value}
    if not given:
        return None

    def build(slot):
        unmatched = ((WebhookEvent.project == slot("project")) & (WebhookEvent.action == "recovery")
                     & (WebhookEvent.occurred_at >= slot("after")) & (WebhookEvent.status == "processed")
                     & WebhookEvent.churn_event_id.is_null())
        # A top-level OR of whole conditions: SQLite searches both customer indexes.
        match = [unmatched & (getattr(WebhookEvent, name) == slot(name)) for name in given]
        return WebhookEvent.select().where(match[0] if len(match) == 1 else (match[0] | match[1]))

    statement = prepared(("pending-recovery", tuple(given)), build, after=WebhookEvent.occurred_at)
    rows = statement.rows(WebhookEvent, project=project_id, after=after, **given)
    return max(rows, key=lambda row: (row.occurred_at, row.id)) if rows else None
