"""Outbound webhooks: the endpoints a project sends events to, and the outbox of deliveries.

`record_event(project_id, type, data)` is the one way an event leaves the server. It is called
inside the transaction of the change that caused it (the outbox pattern): for every enabled
endpoint of the project that wants the event, it writes a `webhook_deliveries` row (its id is the
`webhook-id` the receiver sees) and a scheduled job that will send it. The rows commit with the
change or not at all, so an event is never announced for a change that was rolled back, and never
lost between the commit and the sending. The scheduler (`services/outbound_delivery.py`) picks
the job up once it is committed. See docs/outbound-webhooks.md.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Callable

import peewee

from store import scheduled_jobs
from store.db import database, transaction
from store.models import BaseModel, Project, new_id, utcnow
from store.serialize import dumps, iso

EVENT_TYPES = (
    "churn_event.created", "churn_event.recovered", "churn_event.saved", "churn_event.lost",
    "variant.sent", "cancel_flow.submitted",
    "payment_recovery.opened", "payment_recovery.recovered", "payment_recovery.failed",
    "billing_action.applied", "billing_action.failed",
    "customer.at_risk",
)
TEST_EVENT = "webhook_endpoint.test"  # sent by "Send test event"; to that endpoint only
KINDS = ("standard", "slack")
DELIVERY_STATUSES = ("pending", "succeeded", "failed")
JOB_KIND = "outbound_webhook"


class WebhookEndpoint(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("we"))
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    url = peewee.CharField(max_length=2048)
    kind = peewee.CharField(max_length=12, default="standard")
    events = peewee.TextField(default='["*"]')  # JSON list of event types, or ["*"]
    description = peewee.CharField(max_length=500, null=True)
    min_mrr_cents = peewee.BigIntegerField(null=True)
    # Needed in clear to sign every delivery, so it cannot be hashed; never answered after the
    # create (masked instead) and never logged. docs/outbound-webhooks.md says how it is kept.
    secret = peewee.CharField(max_length=100)
    enabled = peewee.BooleanField(default=True)
    disabled_reason = peewee.TextField(null=True)
    failing_since = peewee.DateTimeField(null=True)  # first failed attempt since the last success
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "webhook_endpoints"
        indexes = ((("project", "enabled"), False),)

    @property
    def event_types(self) -> list[str]:
        return json.loads(self.events or "[]")

    def wants(self, event_type: str) -> bool:
        types = self.event_types
        return event_type == TEST_EVENT or "*" in types or event_type in types


class WebhookDelivery(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("msg"))
    endpoint = peewee.ForeignKeyField(WebhookEndpoint, on_delete="CASCADE", index=False)
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE")
    event_type = peewee.CharField(max_length=64)
    body = peewee.TextField()  # the exact JSON sent (and signed) at every attempt
    status = peewee.CharField(max_length=12, default="pending")
    attempts = peewee.IntegerField(default=0)
    last_status_code = peewee.IntegerField(null=True)
    last_error = peewee.TextField(null=True)
    last_response = peewee.TextField(null=True)  # the start of the receiver's last answer
    next_attempt_at = peewee.DateTimeField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    completed_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "webhook_deliveries"
        indexes = ((("endpoint", "created_at"), False),)


def event_amount(data: dict) -> int | None:
    """The money an event is about, for `min_mrr_cents`: the churn event's MRR, a payment
    recovery's amount due; None when the event names no amount."""
    for source in (data, data.get("churn_event") if isinstance(data.get("churn_event"), dict) else {}):
        for name in ("mrr_cents", "amount_due_cents", "amount_cents"):
            if isinstance(source.get(name), int):
                return source[name]
    return None


def _passes_filter(endpoint: Subscriber, data: dict) -> bool:
    if not endpoint.min_mrr_cents:
        return True
    amount = event_amount(data)
    return amount is not None and amount >= endpoint.min_mrr_cents


@dataclass(frozen=True)
class Subscriber:
    """What queuing an event needs to know about an endpoint."""

    id: str
    events: str  # JSON list
    min_mrr_cents: int | None

    def wants(self, event_type: str) -> bool:
        return event_type == TEST_EVENT or '"*"' in self.events or f'"{event_type}"' in self.events


_SUBSCRIBERS_SQL: dict = {}


def subscribed_endpoints(project_id: str, event_type: str) -> list[Subscriber]:
    """The project's enabled endpoints that want `event_type`: one lookup on the (project,
    enabled) index, asked by every churn-event change, so its SQL is built once per database
    (building it cost more than running it)."""
    db = database.obj
    key = id(db)
    if key not in _SUBSCRIBERS_SQL:
        query = (WebhookEndpoint.select(WebhookEndpoint.id, WebhookEndpoint.events, WebhookEndpoint.min_mrr_cents)
                 .where((WebhookEndpoint.project == "") & (WebhookEndpoint.enabled == True)))  # noqa: E712
        _SUBSCRIBERS_SQL[key] = query.sql()[0]
    rows = db.execute_sql(_SUBSCRIBERS_SQL[key], (project_id, True)).fetchall()
    return [endpoint for endpoint in (Subscriber(*row) for row in rows) if endpoint.wants(event_type)]


def record_event(project_id: str, event_type: str, data: dict | Callable[[], dict],
                 occurred_at: dt.datetime | None = None, only_endpoint: str | None = None) -> list[str]:
    """Queue `event_type` for every endpoint of the project that wants it; returns the delivery
    ids. Call it inside the transaction of the change (its rows commit with it). `data` is the
    resource as the API shows it, or a function making it (only called when someone listens)."""
    if event_type not in EVENT_TYPES and event_type != TEST_EVENT:
        raise ValueError(f"unknown outbound event type {event_type!r}")
    endpoints = subscribed_endpoints(project_id, event_type)
    if only_endpoint is not None:
        endpoints = [endpoint for endpoint in endpoints if endpoint.id == only_endpoint]
    if not endpoints:
        return []
    payload = data() if callable(data) else data
    now = utcnow()
    body = dumps({"type": event_type, "timestamp": iso(occurred_at or now), "data": payload})
    ids = []
    with transaction():
        for endpoint in endpoints:
            if event_type != TEST_EVENT and not _passes_filter(endpoint, payload):
                continue
            delivery_id = new_id("msg")
            WebhookDelivery.insert(id=delivery_id, endpoint=endpoint.id, project=project_id, event_type=event_type,
                                   body=body, status="pending", attempts=0, next_attempt_at=now,
                                   created_at=now).execute()
            scheduled_jobs.schedule(JOB_KIND, now, project_id, ref=delivery_id, payload={"endpoint": endpoint.id})
            ids.append(delivery_id)
    if ids:
        _note_recorded()
    return ids


# A count of deliveries queued by this process, so the request path can wake the scheduler after
# a change that queued some, without a query (`services/outbound.py`).
_queued = [0]


def _note_recorded() -> None:
    _queued[0] += 1


def queued_count() -> int:
    return _queued[0]


# --- what the API shows -------------------------------------------------------------------------

def delivery_json(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id,
        "endpoint_id": delivery.endpoint_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "last_response": delivery.last_response,
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": iso(delivery.created_at),
        "completed_at": iso(delivery.completed_at),
    }
