"""Changes other processes made to projects, read from the project change log
(store/project_changes.py) every `change_poll_seconds`: each one makes this process forget the
project (`Context.project_changed`), as a change made here does at once. So the per-process caches
of keys and settings (services/project_cache.py) can keep a project for minutes while a rotation
or a settings change made elsewhere takes effect here within about a second (docs/deploy.md).
"""
from __future__ import annotations

import logging
import time

from store import project_changes
from store.db import run_db

log = logging.getLogger("windback.changes")

# A change's id is taken when its row is written but seen only when its transaction commits; on
# PostgreSQL a later id can commit first. The ids of the last 30 s are read again on every poll,
# so a change whose transaction commits up to 30 s after writing its row is still seen (the
# transactions that write one take milliseconds).
OVERLAP_SECONDS = 30.0


class ChangeFeed:
    """Reads the change log from where this process started. Build it before the server
    answers anything (`latest_id` is read at once), then call `poll` every few seconds."""

    def __init__(self, ctx):
        self.ctx = ctx
        self._floor = project_changes.latest_id()  # every change up to here is reflected already
        self._seen: dict[int, float] = {}  # ids above the floor already applied -> when
        self._failing = False

    async def poll(self) -> None:
        try:
            changes = await run_db(project_changes.changes_after, self._floor)
        except Exception:  # noqa: BLE001 - the database is away; the next poll reads from the same place
            if not self._failing:
                log.exception("reading the project change log failed; retrying every poll")
            self._failing = True
            return
        self._failing = False
        self.apply(changes, time.monotonic())

    def apply(self, changes: list[tuple[int, str]], now: float) -> None:
        for change_id, project_id in changes:
            if change_id not in self._seen:
                self._seen[change_id] = now
                self.ctx.project_changed(project_id)
        settled = [change_id for change_id, seen_at in self._seen.items() if now - seen_at > OVERLAP_SECONDS]
        if settled:
            self._floor = max(self._floor, *settled)
            self._seen = {change_id: at for change_id, at in self._seen.items() if change_id > self._floor}
