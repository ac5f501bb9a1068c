"""Every kind of scheduled job this server runs, and the process's scheduler.

A feature with timed work adds its `JobKind` to `job_kinds()`; `scheduler_for(ctx)` builds the
process's one scheduler with all of them (started by `server.Server.listen`).
"""
from __future__ import annotations

from services.dunning import DUNNING_EMAIL
from services.scheduler import JobKind, Scheduler


def job_kinds() -> list[JobKind]:
    return [DUNNING_EMAIL]


def scheduler_for(ctx) -> Scheduler:
    return ctx.service("scheduler", lambda: Scheduler(ctx, job_kinds(), ctx.settings.scheduler_poll_seconds))
