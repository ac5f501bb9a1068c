"""The webhook intake of one server process: which project a public key names (cached briefly),
the group committer that stores verified deliveries, and the hand-off to the project's actor.

Durable first (docs/webhooks.md): a delivery is answered only after the transaction holding it committed;
applying it happens afterwards in the project's actor, which drains the project's `received`
events in provider-time order. A drain that is already running is told to go round once more
instead of starting a second one, so a burst of deliveries costs a few actor calls, not one each.
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
from dataclasses import dataclass

import cachetools

from services.project_cache import ProjectScopedCache
from store.errors import DomainError
from store import projects
from store.db import run_db
from store.group_commit import GroupCommitter
from store.models import utcnow
from store.webhooks import Delivery, Stored, projects_with_unapplied, store_deliveries

log = logging.getLogger("windback.webhooks")
DRAIN_BATCH = 200


@dataclass(frozen=True)
class WebhookProject:
    project_id: str
    secrets: dict  # provider -> webhook secret (or None)
    key_expires_at: dt.datetime | None  # a rotated public key stops working then


def _load_project(public_key: str) -> WebhookProject | None:
    key = projects.live_key("public", public_key)
    if key is None:
        return None
    settings = projects.project_settings(key.project)
    return WebhookProject(key.project.id, {provider: settings.get(f"{provider}_webhook_secret")
                                           for provider in ("stripe", "razorpay", "custom")}, key.expires_at)


class WebhookIntake:
    def __init__(self, ctx, unknown_ttl: float = 60.0):
        self.ctx = ctx
        self._projects = ProjectScopedCache(maxsize=ctx.settings.project_cache_size)
        # Keys found to name no project: a repeat costs no query. Never forgotten on a change: a
        # new public key is random, so it was never looked up before it existed.
        self._unknown: cachetools.TTLCache = cachetools.TTLCache(maxsize=10_000, ttl=unknown_ttl)
        self._lock = threading.Lock()  # for `_unknown`: the change feed may call from other threads
        self._drains: dict[str, bool] = {}  # project id -> "go round again"; IOLoop thread only
        self._tasks: set = set()  # running drains (the loop keeps only weak references)
        self.committer = GroupCommitter("webhooks", store_deliveries)
        ctx.change_listeners.append(self.forget_project)

    async def project(self, public_key: str) -> WebhookProject | None:
        if not public_key.startswith("pub_") or len(public_key) > 128:
            return None  # a secret key (or anything else) never names a webhook endpoint
        found = self._projects.get(public_key)
        if found is None:
            with self._lock:
                if public_key in self._unknown:
                    return None
            generation = self._projects.generation()
            found = await run_db(_load_project, public_key)
            if found is not None:
                self._projects.put(public_key, found.project_id, found, generation, expires_at=found.key_expires_at)
            else:
                with self._lock:
                    self._unknown[public_key] = True
        return found

    def forget_project(self, project_id: str) -> None:
        """Settings or keys may have changed: look the project up again next time."""
        self._projects.forget_project(project_id)

    async def store(self, delivery: Delivery) -> Stored:
        return await self.committer.submit(delivery)

    def kick(self, project_id: str) -> None:
        """Have the project's actor apply its stored events soon (after this answer)."""
        if project_id in self._drains:
            self._drains[project_id] = True
            return
        self._drains[project_id] = False
        task = asyncio.get_running_loop().create_task(self._drain(project_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(self, project_id: str) -> None:
        try:
            while True:
                self._drains[project_id] = False
                try:
                    applied = await self.ctx.actors.project(project_id).drain_webhooks(DRAIN_BATCH)
                except DomainError as error:  # shutting down (503) or a slow actor (504): resumed later
                    log.info("webhook events of project %s left for later: %s", project_id, error.message)
                    return
                except Exception:  # noqa: BLE001 - the events stay stored; the next kick or a replay retries
                    log.exception("applying webhook events of project %s failed", project_id)
                    return
                if applied < DRAIN_BATCH and not self._drains[project_id]:
                    return
        finally:
            self._drains.pop(project_id, None)

    def stop(self) -> None:
        self.committer.stop()


async def resume_unapplied(ctx, older_than: float = 30.0) -> int:
    """Kick the projects whose stored events were never applied (housekeeping, every minute)."""
    stale = await run_db(projects_with_unapplied, utcnow() - dt.timedelta(seconds=older_than))
    intake = intake_for(ctx) if stale else None
    for project_id in stale:
        intake.kick(project_id)
    return len(stale)


def intake_for(ctx) -> WebhookIntake:
    """The process's intake, made on first use (on the IOLoop thread)."""
    return ctx.service("webhooks", lambda: WebhookIntake(ctx))
