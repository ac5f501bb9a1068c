"""`ProjectActors`: one actor per project, started on first use, at most `max_actors` alive.

Handlers call `await actors.project(project_id).mark_recovered(...)`. The actors run on a shared
`ActorPool` of `threads` threads (actors/runtime.py), so neither threads nor database
connections grow with the number of projects.

Bounding the live actors: when a new one would pass `max_actors`, the least recently used actor
with nothing in flight is stopped to make room (an eviction); that project gets a fresh actor on
its next command. "In flight" counts, per actor and under the registry's lock, every call handed
to it that it has not yet finished (answered, failed or handed back), including calls whose
caller already gave up with a 504. An actor is only ever stopped with nothing in flight, and is
removed from the registry in the same locked step, so no later call can reach it: a project's
commands never run on two actors at once, and nothing queued is lost or reordered. When every
live actor is busy the cap is exceeded for a moment rather than making a request wait; the
surplus is stopped as soon as actors go idle.

A crashed actor is replaced on the next call; an actor idle for `idle_seconds` is stopped;
`stop_all` drains them at shutdown. A reply slower than `timeout` answers 504; calls during
shutdown answer 503. `stats()` counts starts, evictions, idle stops and crashes (`GET /health`).
"""
from __future__ import annotations

import asyncio
import collections
import functools
import logging
import threading
import time
from typing import Callable

import pykka

from actors.bridge import ActorRestarted, Call
from actors.runtime import ActorPool, stop_soon
from store.errors import DomainError, TimedOut, Unavailable

log = logging.getLogger("windback.actors")

REF, LAST_USED, IN_FLIGHT = 0, 1, 2  # an entry: [ActorRef, last used (monotonic), calls in flight]


class ProjectActors:
    def __init__(self, factory: Callable[[str, ActorPool], pykka.ActorRef], timeout: float = 10.0,
                 idle_seconds: float = 300.0, on_change: Callable[[str], None] | None = None,
                 max_actors: int = 256, threads: int = 16, shared_transaction_seconds: float | None = None):
        self._factory = factory
        self._on_change = on_change  # told after every successful command: caches of churn data forget
        self._timeout = timeout
        self._idle_seconds = idle_seconds
        self._max_actors = max_actors
        self._pool = ActorPool(threads, shared_transaction_seconds=shared_transaction_seconds)
        # project id -> entry, least recently used first
        self._actors: collections.OrderedDict[str, list] = collections.OrderedDict()
        self._lock = threading.Lock()
        self._stopping = False
        self._counts = {"started": 0, "evicted": 0, "stopped_idle": 0, "crashed": 0}

    def project(self, project_id: str) -> "AsyncActorProxy":
        return AsyncActorProxy(self, project_id)

    def _acquire(self, project_id: str) -> list:
        """The project's live entry (started if needed), with one more call in flight."""
        with self._lock:
            if self._stopping:
                raise Unavailable("The server is shutting down")
            entry = self._actors.get(project_id)
            if entry is not None and not entry[REF].is_alive():
                log.warning("actor for project %s had stopped; starting a fresh one", project_id)
                self._remove(project_id, "crashed")
                entry = None
            evicted = []
            if entry is None:
                evicted = self._make_room(1)
                entry = [self._factory(project_id, self._pool), 0.0, 0]
                self._actors[project_id] = entry
                self._counts["started"] += 1
            else:
                self._actors.move_to_end(project_id)
            entry[LAST_USED] = time.monotonic()
            entry[IN_FLIGHT] += 1
        _stop(evicted)
        return entry

    def _release(self, entry: list) -> None:
        """The actor finished one call (told on the loop thread)."""
        with self._lock:
            entry[IN_FLIGHT] -= 1
            evicted = self._make_room(0) if len(self._actors) > self._max_actors else []
        _stop(evicted)

    def _make_room(self, needed: int) -> list:
        """Under the lock: take least recently used idle actors out until `needed` more fit under
        the cap (or none is idle); returns their refs, to be stopped outside the lock."""
        surplus = len(self._actors) + needed - self._max_actors
        if surplus <= 0:
            return []
        victims = []
        for project_id, entry in self._actors.items():
            if entry[IN_FLIGHT] == 0:
                victims.append(project_id)
                if len(victims) == surplus:
                    break
        return [self._remove(project_id, "evicted") for project_id in victims]

    def _remove(self, project_id: str, reason: str) -> pykka.ActorRef:
        self._counts[reason] += 1
        return self._actors.pop(project_id)[REF]

    async def call(self, project_id: str, method: str, *args, **kwargs):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        for attempt in range(3):
            future = loop.create_future()
            entry = self._acquire(project_id)
            message = Call(method, args, kwargs, loop, future, functools.partial(self._release, entry))
            try:
                entry[REF].tell(message)
            except pykka.ActorDeadError:  # it crashed since: this starts a fresh one
                self._release(entry)
                entry = self._acquire(project_id)
                message.settled = functools.partial(self._release, entry)
                entry[REF].tell(message)
            # A timer on the future itself: cheaper than asyncio.wait_for, which wraps it in a task.
            timer = loop.call_at(deadline, _expire, future)
            try:
                result = await future
            except ActorRestarted:
                continue  # queued behind a crash, never ran: send it to the fresh actor
            except DomainError:
                raise
            except Exception:
                self._forget(project_id, entry)  # that actor is crashing; the next call starts a fresh one
                raise
            finally:
                timer.cancel()
            break
        else:
            raise Unavailable("The project's work queue is restarting; retry")
        if self._on_change is not None:
            self._on_change(project_id)
        return result

    def _forget(self, project_id: str, entry: list) -> None:
        with self._lock:
            if self._actors.get(project_id) is entry:
                self._remove(project_id, "crashed")

    def running(self) -> int:
        with self._lock:
            return sum(1 for entry in self._actors.values() if entry[REF].is_alive())

    def stats(self) -> dict:
        """Live actors and what happened to them since start (every start is matched, once the
        actor is gone, by one eviction, idle stop or crash)."""
        with self._lock:
            busy = sum(1 for entry in self._actors.values() if entry[IN_FLIGHT])
            return {"live": len(self._actors), "busy": busy, "max": self._max_actors,
                    "threads": self._pool.size, **self._counts}

    def stop_idle(self) -> int:
        """Stop actors unused for `idle_seconds` with nothing in flight; returns how many."""
        now = time.monotonic()
        with self._lock:
            idle = [project_id for project_id, entry in self._actors.items()
                    if not entry[IN_FLIGHT] and now - entry[LAST_USED] > self._idle_seconds]
            refs = [self._remove(project_id, "stopped_idle") for project_id in idle]
        _stop(refs)
        return len(refs)

    def stop_all(self, timeout: float = 10.0) -> None:
        """Refuse new calls, let every actor finish what it holds, then end the pool's threads."""
        with self._lock:
            self._stopping = True
            refs = [entry[REF] for entry in self._actors.values()]
            self._actors.clear()
        stops = []
        for ref in refs:
            try:
                stops.append(ref.stop(block=False))
            except pykka.ActorDeadError:
                pass
        for stopped in stops:
            try:
                stopped.get(timeout=timeout)
            except (pykka.Timeout, pykka.ActorDeadError):
                pass
        self._pool.stop(timeout)


def _stop(refs: list) -> None:
    for ref in refs:
        stop_soon(ref)  # queued behind nothing: the actor had nothing in flight


def _expire(future: asyncio.Future) -> None:
    if not future.done():
        future.set_exception(TimedOut("The project's work queue did not answer in time"))


class AsyncActorProxy:
    """`await proxy.method(*args)`: reads like a Pykka proxy, never blocks the IOLoop."""

    def __init__(self, actors: ProjectActors, project_id: str):
        self._actors = actors
        self._project_id = project_id

    def __getattr__(self, method: str):
        if method.startswith("_"):
            raise AttributeError(method)

        def call(*args, **kwargs):
            return self._actors.call(self._project_id, method, *args, **kwargs)

        return call
