"""Pykka actors that share a few threads instead of owning one each.

`pykka.ThreadingActor` gives every actor an OS thread for its whole life. With one actor per
project that is one thread (and, on SQLite, one connection and page cache) per active merchant,
and starting one costs a thread start on the IOLoop. A `PooledActor` is a plain Pykka actor
(`start`, `tell`, `ask`, proxies, `stop`, `on_start`/`on_stop`/`on_failure` as usual) whose
messages are run by an `ActorPool`: putting a message into an idle actor's inbox hands the actor
to the pool, one pool thread runs it until its inbox is empty (at most `turn` messages, then it
goes to the back of the queue so busy projects share the threads fairly). An actor is never run
by two threads at once, so its messages are still handled one at a time, in order.

Differences from `ThreadingActor`: `on_start` runs on a pool thread just before the first
message (an actor is started to be sent something); a message that reaches an actor after it
stopped is handed to `on_undelivered` (Pykka's own loop drops such `tell`s); and a command that
blocks holds one pool thread, not only its own actor (commands are short database transactions;
slow I/O runs outside the actors).

Shared transactions (`shared_transaction_seconds`, used on SQLite): a pool thread that takes an
actor opens one write transaction and, in it, also runs the turns of the actors queued behind,
until none is ready or the time is up; then it commits and only then answers every call it ran
(`actors.bridge.replies_held`). SQLite lets one writer in at a time, so projects' commands queue
for it anyway; sharing the commit and the hand-off of the replies brings many projects with one
command each closer to one project with many (docs/actors.md). Each actor's
commands still run in order on one thread; each command's own `transaction()` is a savepoint.
"""
from __future__ import annotations

import collections
import logging
import queue
import sys
import threading
import time
from typing import Any

import pykka

from actors.bridge import replies_held
from store.db import close_thread_connection, transaction, unit_of_work, writes_here

log = logging.getLogger("windback.actors")


class ActorPool:
    """`threads` daemon threads running whichever actors have messages."""

    def __init__(self, threads: int, name: str = "actor", shared_transaction_seconds: float | None = None):
        self.size = threads
        self.shared_transaction_seconds = shared_transaction_seconds
        self._ready: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{n}", daemon=True)
                         for n in range(threads)]
        for thread in self._threads:
            thread.start()

    def schedule(self, actor: "PooledActor") -> None:
        self._ready.put(actor)

    def stop(self, timeout: float = 10.0) -> None:
        """End the threads once the actors queued before this call have had their turn."""
        for _ in self._threads:
            self._ready.put(None)
        for thread in self._threads:
            thread.join(timeout)

    def _work(self) -> None:
        writes_here()  # every project's commands write through this thread's connection
        while True:
            actor = self._ready.get()
            if actor is None:
                close_thread_connection()
                return
            if self.shared_transaction_seconds is None:
                _run(actor, None)
            elif not self._run_shared(actor):
                close_thread_connection()
                return

    def _run_shared(self, actor: "PooledActor") -> bool:
        """`actor`'s turn, and those of the actors ready behind it, in one transaction; False once
        the stop marker was taken."""
        until = time.monotonic() + self.shared_transaction_seconds
        going, started = True, False
        try:
            with replies_held(), unit_of_work(), transaction():
                started = True
                while True:
                    _run(actor, until)
                    if time.monotonic() >= until:
                        break
                    try:
                        actor = self._ready.get_nowait()
                    except queue.Empty:
                        break
                    if actor is None:
                        going = False
                        break
        except Exception:  # noqa: BLE001 - every call answered in it was told to retry
            log.exception("a shared actor transaction failed")
            if not started:  # it never began: the actor's messages are still waiting for a turn
                time.sleep(0.05)  # a database that refuses every BEGIN is not asked in a hot loop
                self.schedule(actor)
        return going


def _run(actor: "PooledActor", until: float | None) -> None:
    try:
        actor._run_turn(until)
    except BaseException:  # noqa: BLE001 - a pool thread outlives any one actor
        log.exception("actor turn failed in %s", actor)


class _Inbox:
    """A FIFO inbox; the first message put into an idle actor's inbox schedules the actor."""

    def __init__(self, actor: "PooledActor"):
        self._items: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._actor = actor
        self._scheduled = False  # in the pool's queue or running on a pool thread

    def put(self, envelope: Any) -> None:
        with self._lock:
            self._items.append(envelope)
            if self._scheduled:
                return
            self._scheduled = True
        self._actor._pool.schedule(self._actor)

    def get_nowait(self) -> Any:
        with self._lock:
            if not self._items:
                raise queue.Empty
            return self._items.popleft()

    get = get_nowait  # Pykka's teardown calls get() only after empty() said no

    def empty(self) -> bool:
        with self._lock:
            return not self._items

    def next_or_release(self) -> Any | None:
        """The next envelope; None when there is none, and the actor is then idle (the next
        `put` schedules it again)."""
        with self._lock:
            if self._items:
                return self._items.popleft()
            self._scheduled = False
            return None


# A `tell` of this stops the actor once the messages queued before it are handled, as
# `ActorRef.stop(block=False)` does, without the two futures that call makes for a reply: the
# registry stops an actor to make room for another on every request when projects outnumber
# the cap, and nobody waits for that stop.
STOP = object()


def stop_soon(ref: pykka.ActorRef) -> None:
    """Stop the actor after what it was sent already; an actor already stopped is left alone."""
    try:
        ref.tell(STOP)
    except pykka.ActorDeadError:
        pass


class PooledActor(pykka.Actor):
    turn = 64  # messages an actor may handle before the other actors waiting get a thread

    def __init__(self, pool: ActorPool):
        self._pool = pool
        self._set_up = False
        super().__init__()

    def _create_actor_inbox(self) -> _Inbox:  # type: ignore[override]
        return _Inbox(self)

    @staticmethod
    def _create_future() -> pykka.Future:
        return pykka.ThreadingFuture()

    def _start_actor_loop(self) -> None:
        """Nothing to start: the pool runs the actor when a message arrives."""

    def on_undelivered(self, message: Any) -> None:
        """A `tell` message that arrived after the actor stopped (hook; default: dropped)."""

    def _handle_receive(self, message: Any) -> Any:
        if message is STOP:
            return self._stop()
        return super()._handle_receive(message)

    def _run_turn(self, until: float | None = None) -> None:
        """Up to `turn` messages, and none started after `until` (monotonic) but the first."""
        if not self._set_up:
            self._set_up = True
            self._actor_loop_setup()  # on_start, on this thread
        inbox = self.actor_inbox
        for handled in range(self.turn):
            if self.actor_stopped.is_set() or (handled and until is not None and time.monotonic() >= until):
                break
            envelope = inbox.next_or_release()
            if envelope is None:
                return
            self._handle_envelope(envelope)
        if not self.actor_stopped.is_set():
            self._pool.schedule(self)  # turn used up, more waiting: back of the queue
            return
        # Stopped: answer what is left, and stay idle so that a late message schedules a turn
        # that answers it too.
        while (envelope := inbox.next_or_release()) is not None:
            if envelope.reply_to is not None:
                error = pykka.ActorDeadError(f"{self.actor_ref} stopped before handling the message")
                envelope.reply_to.set_exception(exc_info=(pykka.ActorDeadError, error, None))
            else:
                self.on_undelivered(envelope.message)

    def _handle_envelope(self, envelope: Any) -> None:
        """One message, as Pykka's own actor loop handles it: an `ask` gets the error back and the
        actor lives on; an error in a `tell` stops the actor after `on_failure`."""
        try:
            response = self._handle_receive(envelope.message)
            if envelope.reply_to is not None:
                envelope.reply_to.set(response)
        except BaseException:  # noqa: BLE001 - goes to the caller, or stops this actor
            if envelope.reply_to is not None:
                envelope.reply_to.set_exception()
                return
            self._handle_failure(*sys.exc_info())
            try:
                self.on_failure(*sys.exc_info())
            except Exception:  # noqa: BLE001
                self._handle_failure(*sys.exc_info())
