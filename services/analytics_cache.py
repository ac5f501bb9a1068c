"""The per-project cache of analytics answers.

Keyed by (project, endpoint, parameters) plus the project's *generation*. `forget_project`
bumps it; `Context.data_changed` calls it after every successful project-actor command, and
`Context.project_changed` after a settings change. An answer computed before the write (even one
still being computed while it happened) is then never served again; stale entries age out of the
bounded TTL cache. The TTL (30 s) also bounds what no listener hears: time alone (an open event
becoming `lost`, a month becoming complete), the lost sweep, `scripts/replay_webhooks.py`, and
writes made through another server process (docs/analytics.md, "Caching").
"""
from __future__ import annotations

import threading
from typing import Any, Hashable

import cachetools

TTL_SECONDS = 30.0
MAX_ENTRIES = 4096


class AnalyticsCache:
    def __init__(self, ttl: float = TTL_SECONDS, maxsize: int = MAX_ENTRIES):
        self._answers: cachetools.TTLCache = cachetools.TTLCache(maxsize=maxsize, ttl=ttl)
        # One integer per project ever written to; never evicted, so a generation never goes back.
        self._generations: dict[str, int] = {}
        self._lock = threading.Lock()

    def key(self, project_id: str, endpoint: str, params: Hashable) -> tuple:
        """The key an answer computed from now on is stored under."""
        with self._lock:
            return (project_id, self._generations.get(project_id, 0), endpoint, params)

    def get(self, key: tuple) -> Any | None:
        with self._lock:
            return self._answers.get(key)

    def put(self, key: tuple, answer: Any) -> None:
        with self._lock:
            project_id, generation = key[0], key[1]
            if generation == self._generations.get(project_id, 0):
                self._answers[key] = answer

    def forget_project(self, project_id: str) -> None:
        with self._lock:
            self._generations[project_id] = self._generations.get(project_id, 0) + 1
