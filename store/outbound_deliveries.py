"""The life of one outbound delivery: what an attempt needs, what its outcome changes, retries.

A delivery is `pending` until an attempt succeeds (`succeeded`) or the retry schedule runs out
(`failed`). Every change is a conditional UPDATE on `status = 'pending'`, so two processes (or a
late answer after a manual retry) cannot both settle it. An endpoint whose attempts have failed
for `DISABLE_AFTER` with no success between is disabled (`failing_since` remembers the first
failure); the caller then emails the project's admins.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from store import scheduled_jobs
from store.db import transaction
from store.errors import conflict, not_found
from store.models import Membership, Project, User, utcnow
from store.outbound import JOB_KIND, TEST_EVENT, WebhookDelivery, WebhookEndpoint, delivery_json, record_event
from store.webhook_endpoints import get_endpoint

# Seconds before the attempts after the first (then `failed`), multiplied by
# WINDBACK_WEBHOOK_RETRY_SCALE: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
RETRY_DELAYS = (5, 300, 1800, 7200, 18000, 36000, 36000)
DISABLE_AFTER = dt.timedelta(days=5)
KEEP_SETTLED = dt.timedelta(days=30)  # settled deliveries are listed this long, then deleted
RESPONSE_EXCERPT = 1000  # characters of the receiver's answer kept for the dashboard


@dataclass(frozen=True)
class Attempt:
    """What one attempt needs: the delivery and its endpoint as they are now."""

    delivery_id: str
    project_id: str
    project_slug: str
    event_type: str
    body: str
    attempts: int
    endpoint_id: str
    url: str
    kind: str
    secret: str = field(repr=False)  # never in a log line or traceback text
    enabled: bool = True


@dataclass(frozen=True)
class Outcome:
    """What the receiver did: `status_code` None when it never answered (`error` says why)."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    response: str | None = None


def load_attempt(delivery_id: str) -> Attempt | None:
    """The delivery to attempt, or None when there is nothing to send (settled, deleted)."""
    row = (WebhookDelivery.select(WebhookDelivery, WebhookEndpoint, Project.id, Project.slug).join(WebhookEndpoint)
           .switch(WebhookDelivery).join(Project)
           .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == "pending")).first())
    if row is None:
        return None
    endpoint = row.endpoint
    return Attempt(row.id, row.project.id, row.project.slug, row.event_type, row.body, row.attempts, endpoint.id, endpoint.url,
                   endpoint.kind, endpoint.secret, bool(endpoint.enabled))


def record_outcome(delivery_id: str, outcome: Outcome, retry_scale: float, automatic: bool = True,
                   now: dt.datetime | None = None) -> tuple[str, float | None, bool]:
    """Record one attempt: (status afterwards, seconds until the next attempt or None, whether
    this failure disabled the endpoint). Nothing changes if the delivery is no longer pending."""
    now = now or utcnow()
    with transaction():
        delivery = WebhookDelivery.get_or_none(WebhookDelivery.id == delivery_id)
        if delivery is None or delivery.status != "pending":
            return (delivery.status if delivery else "deleted"), None, False
        attempts = delivery.attempts + 1
        changes = {"attempts": attempts, "last_status_code": outcome.status_code, "last_error": outcome.error,
                   "last_response": (outcome.response or "")[:RESPONSE_EXCERPT] or None}
        delay = None
        if outcome.ok:
            changes.update(status="succeeded", completed_at=now, next_attempt_at=None)
        elif automatic and attempts <= len(RETRY_DELAYS):
            delay = RETRY_DELAYS[attempts - 1] * retry_scale
            changes.update(next_attempt_at=now + dt.timedelta(seconds=delay))
        else:
            changes.update(status="failed", completed_at=now, next_attempt_at=None)
        (WebhookDelivery.update(**changes)
         .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == "pending")).execute())
        disabled = _note_endpoint_health(delivery.endpoint_id, outcome.ok, now)
        return changes.get("status", "pending"), delay, disabled


def _note_endpoint_health(endpoint_id: str, ok: bool, now: dt.datetime) -> bool:
    """Success clears `failing_since`; a failure sets it if unset and disables the endpoint once
    it is `DISABLE_AFTER` old. True when this call disabled it."""
    if ok:
        (WebhookEndpoint.update(failing_since=None)
         .where((WebhookEndpoint.id == endpoint_id) & WebhookEndpoint.failing_since.is_null(False)).execute())
        return False
    (WebhookEndpoint.update(failing_since=now)
     .where((WebhookEndpoint.id == endpoint_id) & WebhookEndpoint.failing_since.is_null()).execute())
    return bool(WebhookEndpoint.update(
        enabled=False, updated_at=now,
        disabled_reason=f"Disabled on {now:%Y-%m-%d %H:%M} UTC: every delivery failed for "
                        f"{DISABLE_AFTER.days} days. Fix the receiver, then enable the endpoint again.")
        .where((WebhookEndpoint.id == endpoint_id) & (WebhookEndpoint.enabled == True)  # noqa: E712
               & (WebhookEndpoint.failing_since <= now - DISABLE_AFTER)).execute())


def give_up(delivery_id: str, reason: str) -> None:
    """Settle a pending delivery as failed without an attempt (its endpoint is disabled)."""
    (WebhookDelivery.update(status="failed", last_error=reason, completed_at=utcnow(), next_attempt_at=None)
     .where((WebhookDelivery.id == delivery_id) & (WebhookDelivery.status == "pending")).execute())


def retry_delivery(project_id: str, endpoint_id: str, delivery_id: str) -> dict:
    """Send a delivery again now (one attempt, same `webhook-id`). A pending one is moved up; a
    settled one becomes pending with a job of its own that does not retry on failure."""
    now = utcnow()
    with transaction():
        endpoint = get_endpoint(project_id, endpoint_id)
        if not endpoint.enabled:
            raise conflict("The webhook endpoint is disabled; enable it before retrying deliveries")
        delivery = WebhookDelivery.get_or_none((WebhookDelivery.id == delivery_id)
                                               & (WebhookDelivery.endpoint == endpoint.id))
        if delivery is None:
            raise not_found("Delivery")
        if delivery.status == "pending":
            moved = (scheduled_jobs.ScheduledJob.update(due_at=now)
                     .where((scheduled_jobs.ScheduledJob.kind == JOB_KIND) & (scheduled_jobs.ScheduledJob.ref == delivery_id)
                            & (scheduled_jobs.ScheduledJob.status == "scheduled")).execute())
            if not moved:
                raise conflict("The delivery is being attempted right now")
        else:
            (WebhookDelivery.update(status="pending", completed_at=None, next_attempt_at=now)
             .where(WebhookDelivery.id == delivery_id).execute())
            scheduled_jobs.schedule(JOB_KIND, now, project_id, ref=delivery_id,
                                    payload={"endpoint": endpoint.id, "manual": True})
        WebhookDelivery.update(next_attempt_at=now).where(WebhookDelivery.id == delivery_id).execute()
        return delivery_json(WebhookDelivery.get_by_id(delivery_id))


def queue_test_event(project_id: str, endpoint_id: str) -> dict:
    """A `webhook_endpoint.test` event for this endpoint only (the dashboard's "Send test event")."""
    with transaction():
        endpoint = get_endpoint(project_id, endpoint_id)
        if not endpoint.enabled:
            raise conflict("The webhook endpoint is disabled; enable it before sending a test event")
        data = {"endpoint_id": endpoint.id, "message": "A test event from Windback: this endpoint receives events."}
        ids = record_event(project_id, TEST_EVENT, data, only_endpoint=endpoint.id)
        return delivery_json(WebhookDelivery.get_by_id(ids[0]))


def purge_settled(older_than: dt.timedelta = KEEP_SETTLED, now: dt.datetime | None = None) -> int:
    """Forget settled deliveries after a while (the deliveries list shows the recent ones)."""
    cutoff = (now or utcnow()) - older_than
    return (WebhookDelivery.delete()
            .where(WebhookDelivery.status.in_(("succeeded", "failed")) & (WebhookDelivery.completed_at < cutoff))
            .execute())


def admin_emails(project_id: str) -> list[str]:
    """Who hears that an endpoint was disabled: the project's owners and admins."""
    rows = (User.select(User.email).join(Membership, on=(Membership.user == User.id))
            .where((Membership.project == project_id) & Membership.role.in_(("owner", "admin"))))
    return sorted({user.email for user in rows})
