"""`ProjectActors`: one actor per project, started on first use.

Handlers call `await actors.project(project_id).mark_recovered(...)`. A crashed actor is
replaced on the next call; an actor idle for `idle_seconds` is stopped (messages already in its
inbox are still handled, since the stop message queues behind them); `stop_all` drains them at
shutdown. A reply slower than `timeout` answers 504; calls during shutdown answer 503.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Callable

import pykka

from actors.bridge import ActorRestarted, Call
from store.errors import DomainError, TimedOut, Unavailable

log = logging.getLogger("windback.actors")


class ProjectActors:
    def __init__(self, factory: Callable[[str], pykka.ActorRef], timeout: float = 10.0,
                 idle_seconds: float = 300.0, on_change: Callable[[str], None] | None = None):
        self._factory = factory
        self._on_change = on_change  # told after every successful command: caches of churn data forget
        self._timeout = timeout
        self._idle_seconds = idle_seconds
        self._actors: dict[str, list] = {}  # project id -> [ActorRef, last used (monotonic)]
        self._lock = threading.Lock()
        self._stopping = False

    def project(self, project_id: str) -> "AsyncActorProxy":
        return AsyncActorProxy(self, project_id)

    def _ref(self, project_id: str, replace: bool = False) -> pykka.ActorRef:
        with self._lock:
            if self._stopping:
                raise Unavailable("The server is shutting down")
            entry = self._actors.get(project_id)
            if entry is None or replace or not entry[0].is_alive():
                if entry is not None and not entry[0].is_alive():
                    log.warning("actor for project %s had stopped; starting a fresh one", project_id)
                entry = [self._factory(project_id), time.monotonic()]
                self._actors[project_id] = entry
            entry[1] = time.monotonic()
            return entry[0]

    async def call(self, project_id: str, method: str, *args, **kwargs):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        for attempt in range(3):
            future = loop.create_future()
            message = Call(method, args, kwargs, loop, future)
            ref = self._ref(project_id)
            try:
                ref.tell(message)
            except pykka.ActorDeadError:
                ref = self._ref(project_id)  # that one had died: this starts a fresh one
                ref.tell(message)
            # A timer on the future itself: cheaper than asyncio.wait_for, which wraps it in a task.
            timer = loop.call_at(deadline, _expire, future)
            try:
                result = await future
            except ActorRestarted:
                continue  # queued behind a crash, never ran: send it to the fresh actor
            except DomainError:
                raise
            except Exception:
                self._forget(project_id, ref)  # that actor is crashing; the next call starts a fresh one
                raise
            finally:
                timer.cancel()
            break
        else:
            raise Unavailable("The project's work queue is restarting; retry")
        if self._on_change is not None:
            self._on_change(project_id)
        return result

    def _forget(self, project_id: str, ref: pykka.ActorRef) -> None:
        with self._lock:
            entry = self._actors.get(project_id)
            if entry is not None and entry[0] is ref:
                del self._actors[project_id]

    def running(self) -> int:
        with self._lock:
            return sum(1 for ref, _ in self._actors.values() if ref.is_alive())

    def stop_idle(self) -> int:
        """Stop actors unused for `idle_seconds`; returns how many were stopped."""
        now = time.monotonic()
        with self._lock:
            idle = [pid for pid, (_, used) in self._actors.items() if now - used > self._idle_seconds]
            refs = [self._actors.pop(pid)[0] for pid in idle]
        for ref in refs:
            ref.stop(block=False)
        return len(refs)

    def stop_all(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            refs = [ref for ref, _ in self._actors.values()]
            self._actors.clear()
        for ref in refs:
            try:
                ref.stop(block=True, timeout=timeout)
            except (pykka.Timeout, pykka.ActorDeadError):
                pass


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
