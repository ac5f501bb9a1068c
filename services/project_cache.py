"""Per-process caches of what was read from one project's own rows: the project a secret key
names, the project's row and settings, the webhook secrets and cancel-flow config behind a public
key. An entry lives until its project changes (`forget_project`, called for changes made through
this process at once and for other processes' changes from the change log within about a second,
services/change_feed.py), until its own expiry (a rotated key's grace period), or at most `ttl`
seconds. docs/deploy.md says what that means for several processes.
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any, Hashable

import cachetools

# How long an entry may live without its project changing: a last bound in case a change never
# reaches this process through the change log.
PROJECT_CACHE_SECONDS = 300.0


class ProjectScopedCache:
    """Key -> value read from one project's rows; thread-safe (the IOLoop and the change feed).

    A read that began before a change must not put what it read back after the change forgot
    the project: take `generation()` before reading and pass it to `put`, which refuses the value
    if any project was forgotten in between (one extra read later, never a stale entry)."""

    def __init__(self, maxsize: int = 10_000, ttl: float = PROJECT_CACHE_SECONDS):
        self.maxsize = maxsize
        self._entries: cachetools.TTLCache = cachetools.TTLCache(maxsize=maxsize, ttl=ttl)
        # project id -> its keys here, so forgetting a project does not scan every entry. Keys that
        # expired or were evicted stay listed until the index is rebuilt (at twice maxsize).
        self._keys_of: dict[str, set] = {}
        self._indexed = 0
        self._generation = 0
        self._lock = threading.Lock()

    def generation(self) -> int:
        return self._generation

    def get(self, key: Hashable) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            _, value, expires_at = entry
            if expires_at is not None and time.time() >= expires_at:
                del self._entries[key]  # e.g. a rotated key whose grace period ended
                return None
            return value

    def put(self, key: Hashable, project_id: str, value: Any, generation: int,
            expires_at: dt.datetime | None = None) -> None:
        """Keep `value` (read after `generation()` returned `generation`) until its project changes
        or `expires_at` (a naive UTC datetime, as the store keeps them) passes."""
        expires = expires_at.replace(tzinfo=dt.timezone.utc).timestamp() if expires_at else None
        with self._lock:
            if generation != self._generation:
                return
            self._entries[key] = (project_id, value, expires)
            keys = self._keys_of.setdefault(project_id, set())
            if key not in keys:
                keys.add(key)
                self._indexed += 1
                if self._indexed > 2 * self.maxsize:
                    self._reindex()

    def forget_project(self, project_id: str) -> None:
        with self._lock:
            self._generation += 1
            for key in self._keys_of.pop(project_id, ()):
                self._indexed -= 1
                entry = self._entries.get(key)
                if entry is not None and entry[0] == project_id:
                    del self._entries[key]

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()
            self._keys_of.clear()
            self._indexed = 0

    def _reindex(self) -> None:
        self._keys_of.clear()
        for key, (project_id, _, _) in self._entries.items():
            self._keys_of.setdefault(project_id, set()).add(key)
        self._indexed = len(self._entries)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
