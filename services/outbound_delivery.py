"""Sending outbound webhook deliveries: the scheduler's `outbound_webhook` job kind.

Each delivery (a `webhook_deliveries` row, queued by `store.outbound.record_event`) has one
scheduled job. A run makes one attempt and records it (`store.outbound_deliveries`): a 2xx answer
settles it `succeeded`; anything else is retried on the schedule there (5 s ... 10 h, times
WINDBACK_WEBHOOK_RETRY_SCALE) by putting the same job back with that delay, and then `failed`.

At least once: the job survives restarts in the database, and a run cut short by a crash is run
again (`repeat_interrupted`); the receiver recognises a repeat by `webhook-id` (the delivery id).

One slow receiver cannot hold the others up: at most `PER_ENDPOINT` attempts per endpoint are in
flight in a process; a job that finds its endpoint busy is parked until its turn (`EndpointSlots`)
without counting as an attempt, and so frees its scheduler slot for other endpoints' work. The
API never waits for any of this.
"""
from __future__ import annotations

import json
import logging
import time

from services.mailer import DeliveryFailed, build_message
from services.outbound import slack_request, standard_request
from services.outbound_http import OutboundClient
from services.scheduler import JobKind
from store import outbound_deliveries as deliveries
from store.db import run_db
from store.outbound import JOB_KIND
from store.scheduled_jobs import JobEnded, RetryLater, ScheduledJob

log = logging.getLogger("windback.outbound")

PER_ENDPOINT = 2  # attempts in flight per endpoint and process
MIN_STEP = 0.02  # seconds between the turns of parked jobs, at least
MAX_PARK = 600.0  # a parked job comes back within 10 minutes whatever the queue


class EndpointSlots:
    """Attempts in flight per endpoint in this process, and when a job that found its endpoint
    busy should come back (used on the IOLoop thread only).

    A busy endpoint's jobs are parked one after another, a slot-time apart (the endpoint's recent
    attempt time / `PER_ENDPOINT`), like a queue: each job is claimed about once more, when its
    turn is near, instead of every second. A silent receiver (10 s an attempt) thus spreads its
    backlog out; a quick one gets its jobs back almost at once. No turn is further than
    `MAX_PARK` seconds away, so a receiver that recovers is served again soon."""

    def __init__(self, limit: int = PER_ENDPOINT):
        self.limit = limit
        self.busy: dict[str, int] = {}
        self.seconds: dict[str, float] = {}  # endpoint -> moving average of its attempt time
        self.next_turn: dict[str, float] = {}  # endpoint -> loop time of the last parked job's turn

    def take(self, endpoint_id: str) -> bool:
        if self.busy.get(endpoint_id, 0) >= self.limit:
            return False
        self.busy[endpoint_id] = self.busy.get(endpoint_id, 0) + 1
        return True

    def release(self, endpoint_id: str, seconds: float) -> None:
        average = self.seconds.get(endpoint_id, seconds)
        self.seconds[endpoint_id] = 0.7 * average + 0.3 * seconds
        left = self.busy.get(endpoint_id, 1) - 1
        if left:
            self.busy[endpoint_id] = left
            return
        self.busy.pop(endpoint_id, None)
        if self.next_turn.get(endpoint_id, 0.0) < time.monotonic():
            self.next_turn.pop(endpoint_id, None)  # nothing parked: forget it
            self.seconds.pop(endpoint_id, None)

    def park(self, endpoint_id: str) -> float:
        """Seconds until a job that found `endpoint_id` busy should run again."""
        now = time.monotonic()
        step = max(MIN_STEP, self.seconds.get(endpoint_id, 1.0) / self.limit)
        turn = min(max(now, self.next_turn.get(endpoint_id, now)) + step, now + MAX_PARK)
        self.next_turn[endpoint_id] = turn
        return turn - now


async def deliver(ctx, job: ScheduledJob) -> str | None:
    slots = ctx.service("outbound_slots", EndpointSlots)
    endpoint_id = job.data.get("endpoint", "")
    if not slots.take(endpoint_id):  # decided before any query: a backlog costs one UPDATE a job
        raise RetryLater("waiting for the endpoint's earlier deliveries", delay=slots.park(endpoint_id))
    started = time.monotonic()
    try:
        attempt = await run_db(deliveries.load_attempt, job.ref)
        if attempt is None:
            raise JobEnded("cancelled", "nothing to send: the delivery was settled or deleted")
        if not attempt.enabled:
            await run_db(deliveries.give_up, attempt.delivery_id, "the endpoint is disabled")
            raise JobEnded("cancelled", "the endpoint is disabled")
        outcome = await attempt_once(ctx, attempt)
    finally:
        slots.release(endpoint_id, time.monotonic() - started)
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
