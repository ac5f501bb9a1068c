"""What every handler may use, built once in `server.py` and passed to the application."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import cachetools

from actors.registry import ProjectActors
from config import Settings
from services.ratelimit import RateLimiter


@dataclass(frozen=True)
class KeyOwner:
    """The project a secret key belongs to, as cached for authentication."""

    project_id: str
    slug: str
    plan: str
    expires_at: float | None = None  # Unix time a rotated key stops working; None: current key

    def expired(self, now: float | None = None) -> bool:
        return self.expires_at is not None and (now or time.time()) >= self.expires_at


class KeyCache:
    """Secret-key hash -> KeyOwner for a few seconds, so an API-key request needs no database
    round trip to authenticate. Rotation in this process clears it at once; other processes see a
    rotation within `ttl` seconds (docs/deploy.md)."""

    def __init__(self, ttl: float = 5.0, maxsize: int = 10_000):
        self.maxsize = maxsize
        self._cache: cachetools.TTLCache = cachetools.TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()

    def get(self, key_hash: str) -> KeyOwner | None:
        with self._lock:
            owner = self._cache.get(key_hash)
            if owner is not None and owner.expired():
                del self._cache[key_hash]  # a rotated key's grace ended: never serve it from here
                return None
            return owner

    def put(self, key_hash: str, owner: KeyOwner) -> None:
        with self._lock:
            self._cache[key_hash] = owner

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)


class ProjectCache:
    """Project id -> its `store.models.Project` row for a few seconds, so a request with a secret
    key finds its project (settings included) without a database round trip. Handlers that change
    a project call `ctx.project_changed`, which forgets it at once in this process; other processes
    see the change within `ttl` seconds (docs/configuration.md)."""

    def __init__(self, ttl: float = 5.0, maxsize: int = 10_000):
        self._cache: cachetools.TTLCache = cachetools.TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()

    def get(self, project_id: str):
        with self._lock:
            return self._cache.get(project_id)

    def put(self, project) -> None:
        with self._lock:
            self._cache[project.id] = project

    def forget(self, project_id: str) -> None:
        with self._lock:
            self._cache.pop(project_id, None)


@dataclass
class Context:
    settings: Settings
    secret: str
    mailer: Any
    actors: ProjectActors
    limiter: RateLimiter
    keys: KeyCache = field(default_factory=KeyCache)
    projects: ProjectCache = field(default_factory=ProjectCache)
    extras: dict = field(default_factory=dict)  # feature services (writers, caches) by name
    # Called with a project id after its own row changed (name, settings, keys): `project_changed`.
    change_listeners: list = field(default_factory=list)
    in_flight: int = 0  # requests being served; a graceful stop waits for 0
    writer: Any = None  # services.writers.VariantWriter: template, or OpenAI with template fallback
    # Called with a project id after a project-actor command: its churn events, variants or
    # webhook events changed (`data_changed`). The project's settings did not.
    data_listeners: list = field(default_factory=list)

    def service(self, name: str, factory, forgets_projects: bool = False, forgets_data: bool = False):
        """A process-wide helper (a cache, a group-commit writer) made on first use, told
        (`forget_project(id)`) only of the changes that can make what it holds wrong: with
        `forgets_projects`, a change of the project's own row (settings, keys, name); with
        `forgets_data`, a change of its churn events and variants."""
        service = self.extras.get(name)
        if service is None:
            service = self.extras[name] = factory()
            if forgets_projects:
                self.change_listeners.append(service.forget_project)
            if forgets_data:
                self.data_listeners.append(service.forget_project)
        return service

    def stop_services(self) -> None:
        """At shutdown, after the requests in flight: writers flush what they hold."""
        for service in list(self.extras.values()):
            stop = getattr(service, "stop", None)
            if callable(stop):
                stop()

    def project_changed(self, project_id: str) -> None:
        """Call after changing a project's own row (name, settings, keys, plan)."""
        self.projects.forget(project_id)
        for listener in self.change_listeners:
            listener(project_id)

    def data_changed(self, project_id: str) -> None:
        """Called by the actor registry after each command of the project's actor."""
        for listener in self.data_listeners:
            listener(project_id)
