"""Helpers for the campaign tests: the settings that make steps come due within seconds, the
process's real scheduler, and waiting for a condition (never a long sleep)."""
from __future__ import annotations

import asyncio
import contextlib
import hashlib

from services.job_kinds import scheduler_for
from store import scheduled_jobs
from store.db import unit_of_work
from store.models import ChurnEvent

FAST = {"WINDBACK_SCHEDULER_POLL_SECONDS": "0.05", "WINDBACK_RANDOM_SEED": "20261201"}


def steps(*hours, strategy="auto") -> list[dict]:
    return [{"after_hours": h, "strategy": strategy} for h in hours]


async def enable(api, token, slug="acme", **campaign):
    body = {"enabled": True, "holdout_percent": 0, **campaign}
    r = await api.patch(f"/projects/{slug}", {"settings": {"campaign": body}}, token=token)
    assert r.status == 200, r
    return r.data["settings"]["campaign"]


@contextlib.asynccontextmanager
async def running_scheduler(ctx):
    scheduler = scheduler_for(ctx).start()
    try:
        yield scheduler
    finally:
        await scheduler.shutdown()


async def until(predicate, timeout: float = 20.0, interval: float = 0.03) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return predicate()


def hand_group(project_id: str, customer_key: str, holdout_percent: float) -> str:
    """The split computed here from its definition: SHA-256 of project and customer, first 8 bytes."""
    digest = hashlib.sha256(f"{project_id}\x00{customer_key}".encode()).digest()
    return "holdout" if int.from_bytes(digest[:8], "big") / 2**64 * 100 < holdout_percent else "treatment"


def jobs_of(event_id: str) -> list[scheduled_jobs.ScheduledJob]:
    with unit_of_work():
        return scheduled_jobs.jobs_for("campaign_step", [event_id])


def event_row(event_id: str) -> ChurnEvent:
    with unit_of_work():
        return ChurnEvent.get_by_id(event_id)
