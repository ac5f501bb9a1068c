"""Sending outbound webhook deliveries: the scheduler's `outbound_webhook` job kind.

Each delivery (a `webhook_deliveries` row, queued by `store.outbound.record_event`) has one
scheduled job. A run makes one attempt and records it (`store.outbound_deliveries`): a 2xx answer
settles it `succeeded`; anything else is retried on the schedule there (5 s ... 10 h, times
WINDBACK_WEBHOOK_RETRY_SCALE) by putting the same job back with that delay, and then `failed`.

At least once: the job survives restarts in the database, and a run cut short by a crash is run
again (`repeat_interrupted`); the receiver recognises a repeat by `webhook-id` (the delivery id).

One slow receiver cannot hold the others up: at most `PER_ENDPOINT` attempts per endpoint are in
flight in a process; a job that finds its endpoint busy goes back for `BUSY_DELAY` seconds without
counting as an attempt, and so frees its scheduler slot for other endpoints' work. The API never
waits for any of this.
"""
from __future__ import annotations

import json
import logging

from services.mailer import DeliveryFailed, build_message
from services.outbound import slack_request, standard_request
from services.outbound_http import OutboundClient
from services.scheduler import JobKind
from store import outbound_deliveries as deliveries
from store.db import run_db
from store.outbound import JOB_KIND
from store.scheduled_jobs import JobEnded, RetryLater, ScheduledJob

log = logging.getLogger("windback.outbound")

PER_ENDPOINT = 2
BUSY_DELAY = 1.0


class EndpointSlots:
    """Attempts in flight per endpoint in this process (used on the IOLoop thread only)."""

    def __init__(self, limit: int = PER_ENDPOINT):
        self.limit = limit
        self.busy: dict[str, int] = {}

    def take(self, endpoint_id: str) -> bool:
        if self.busy.get(endpoint_id, 0) >= self.limit:
            return False
        self.busy[endpoint_id] = self.busy.get(endpoint_id, 0) + 1
        return True

    def release(self, endpoint_id: str) -> None:
        left = self.busy.get(endpoint_id, 1) - 1
        if left:
            self.busy[endpoint_id] = left
        else:
            self.busy.pop(endpoint_id, None)


async def deliver(ctx, job: ScheduledJob) -> str | None:
    attempt = await run_db(deliveries.load_attempt, job.ref)
    if attempt is None:
        raise JobEnded("cancelled", "nothing to send: the delivery was settled or deleted")
    if not attempt.enabled:
        await run_db(deliveries.give_up, attempt.delivery_id, "the endpoint is disabled")
        raise JobEnded("cancelled", "the endpoint is disabled")
    slots = ctx.service("outbound_slots", EndpointSlots)
    if not slots.take(attempt.endpoint_id):
        raise RetryLater("the endpoint has deliveries in flight", delay=BUSY_DELAY)
    try:
        outcome = await attempt_once(ctx, attempt)
    finally:
        slots.release(attempt.endpoint_id)
    status, delay, disabled = await run_db(deliveries.record_outcome, attempt.delivery_id, outcome,
                                           ctx.settings.webhook_retry_scale, not job.data.get("manual"))
    if disabled:
        await tell_admins(ctx, attempt)
    if status == "pending" and delay is not None:
        raise RetryLater(outcome.error or "not delivered", delay=delay)
    if status == "failed":
        raise JobEnded("failed", outcome.error or "not delivered")
    return str(outcome.status_code) if outcome.status_code else status


async def attempt_once(ctx, attempt: deliveries.Attempt) -> deliveries.Outcome:
    client = ctx.service("outbound_http", lambda: OutboundClient(ctx.settings.allow_private_webhook_urls))
    if attempt.kind == "slack":
        body, headers = slack_request(json.loads(attempt.body), ctx.settings.public_url, attempt.project_slug)
    else:
        body, headers = standard_request(attempt.delivery_id, attempt.secret, attempt.body)
    return await client.post(attempt.url, body, headers)


async def tell_admins(ctx, attempt: deliveries.Attempt) -> None:
    """The endpoint was just disabled: email the project's owners and admins (best effort)."""
    settings = ctx.settings
    link = f"{settings.public_url}/app/projects/{attempt.project_slug}/settings"
    text = (f"Hello,\n\nWindback disabled the webhook endpoint {attempt.url} of the project "
            f"\"{attempt.project_slug}\": every delivery to it failed for "
            f"{deliveries.DISABLE_AFTER.days} days.\n\nNo more events are sent to it. When the receiver "
            f"works again, enable the endpoint under Settings:\n\n{link}\n")
    for address in await run_db(deliveries.admin_emails, attempt.project_id):
        message = build_message(settings.mail_from, address, "A webhook endpoint was disabled", text)
        try:
            await ctx.mailer.send(message)
        except DeliveryFailed as error:
            log.warning("could not tell %s that endpoint %s was disabled: %s", address, attempt.endpoint_id, error)


OUTBOUND_WEBHOOK = JobKind(
    JOB_KIND, deliver,
    max_lateness=None,  # an event is worth delivering however late the server comes back
    lease_seconds=30.0,  # an attempt takes at most 10 s to resolve and 10 s to answer
    repeat_interrupted=True,  # at least once: the receiver deduplicates on webhook-id
)
