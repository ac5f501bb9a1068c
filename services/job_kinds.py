"""Every kind of scheduled job this server runs, and the process's scheduler.

A feature with timed work adds its `JobKind` to `job_kinds()`; `scheduler_for(ctx)` builds the
process's one scheduler with all of them (started by `server.Server.listen`).
"""
from __future__ import annotations

from services.campaigns import CAMPAIGN_STEP
from services.dunning import DUNNING_EMAIL
from services.outbound import watch_for_deliveries
from services.outbound_delivery import OUTBOUND_WEBHOOK
from services.scheduler import JobKind, Scheduler


def job_kinds() -> list[JobKind]:
    return [DUNNING_EMAIL, CAMPAIGN_STEP, OUTBOUND_WEBHOOK]


def scheduler_for(ctx) -> Scheduler:
    watch_for_deliveries(ctx)  # changes that queued outbound deliveries wake the scheduler
    return ctx.service("scheduler", lambda: Scheduler(ctx, job_kinds(), ctx.settings.scheduler_poll_seconds))
