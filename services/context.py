"""What every handler may use, built once in `server.py` and passed to the application."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.registry import ProjectActors
from config import Settings
from services.project_cache import ProjectScopedCache
from services.ratelimit import RateLimiter


@dataclass(frozen=True)
class KeyOwner:
    """The project a secret key belongs to, as cached for authentication (`Context.keys`, by the
    key's SHA-256; a rotated key's entry expires with its grace period)."""

    project_id: str
    slug: str
    plan: str


@dataclass
class Context:
    settings: Settings
    secret: str
    mailer: Any
    actors: ProjectActors
    limiter: RateLimiter
    # Secret-key hash -> KeyOwner, and project id -> its `store.models.Project` row (settings
    # included): an API-key request needs no database read to authenticate (services/project_cache.py).
    keys: ProjectScopedCache = field(default_factory=ProjectScopedCache)
    projects: ProjectScopedCache = field(default_factory=ProjectScopedCache)
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

    def cache_generations(self) -> tuple[int, int]:
        """Take before reading a key's project from the store; pass to `remember_key`."""
        return self.keys.generation(), self.projects.generation()

    def remember_key(self, key_hash: str, project, expires_at, generations: tuple[int, int]) -> KeyOwner:
        """Cache a secret key's project (read after `cache_generations()` gave `generations`) and
        the project's row; `expires_at` (naive UTC datetime, None: current key) ends a rotated
        key's entry with its grace period."""
        owner = KeyOwner(project.id, project.slug, project.plan)
        self.keys.put(key_hash, project.id, owner, generations[0], expires_at=expires_at)
        self.projects.put(project.id, project.id, project, generations[1])
        return owner

    def project_changed(self, project_id: str) -> None:
        """Call after changing a project's own row (name, settings, keys, plan); the change feed
        calls it for changes made by other processes."""
        self.keys.forget_project(project_id)
        self.projects.forget_project(project_id)
        for listener in self.change_listeners:
            listener(project_id)

    def data_changed(self, project_id: str) -> None:
        """Called by the actor registry after each command of the project's actor."""
        for listener in self.data_listeners:
            listener(project_id)
