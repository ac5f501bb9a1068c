"""Calling an actor from the IOLoop without blocking it.

`await future` on a Pykka future blocks inside `__await__` (it calls the blocking `get()`), so handlers do not
use Pykka futures at all: a `Call` message carries an asyncio future, and the actor resolves it
with `loop.call_soon_threadsafe`. No thread waits while the actor works.
"""
from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from store.errors import DomainError, Unavailable

# On a thread inside `replies_held()`, the outcomes of calls collect here instead of going out.
_held = threading.local()


@dataclass
class Call:
    method: str
    args: tuple
    kwargs: dict
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)
    # Told on the loop once the actor is done with this call (answered, failed or handed back),
    # even if the caller stopped waiting (504): the registry counts calls in flight per actor.
    settled: Callable[[], None] | None = field(default=None, repr=False)

    def resolve(self, result: Any) -> None:
        self._settle(result, None)

    def fail(self, error: BaseException) -> None:
        self._settle(None, error)

    def _settle(self, result: Any, error: BaseException | None) -> None:
        answer([(self, result, error)])


def _settle(call: Call, result: Any, error: BaseException | None) -> None:
    future = call.future
    if not future.done():
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)
    if call.settled is not None:
        call.settled()


def _settle_all(outcomes: list) -> None:
    for call, result, error in outcomes:
        _settle(call, result, error)


def answer(outcomes: list) -> None:
    """Answer calls from an actor thread: now, or when the enclosing `replies_held()` ends."""
    held = getattr(_held, "outcomes", None)
    if held is not None:
        held.extend(outcomes)
    else:
        send_outcomes(outcomes)


def send_outcomes(outcomes: list) -> None:
    """Settle calls from an actor thread: one wake-up of each event loop for all of them."""
    by_loop: dict = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, settled in by_loop.items():
        loop.call_soon_threadsafe(_settle_all, settled)


@contextlib.contextmanager
def replies_held():
    """Calls answered inside this block (on this thread) are answered when it ends, all at once:
    the actor pool wraps a shared transaction in it, so no reply goes out before the commit. If
    the block raises (the commit failed), every held call fails with `Unavailable` instead:
    nothing it did was kept, and the client may retry."""
    outcomes: list = []
    _held.outcomes = outcomes
    try:
        yield
    except BaseException:
        _held.outcomes = None
        send_outcomes([(call, None, Unavailable("The change could not be saved; retry"))
                       for call, _, _ in outcomes])
        raise
    _held.outcomes = None
    send_outcomes(outcomes)


class ActorRestarted(Exception):
    """A call that was still queued when its actor crashed; it never ran, so the registry sends
    it again to the fresh actor."""


class BridgedActorMixin:
    """`on_receive` for `Call` messages. Expected errors (`store.errors.DomainError`) go back to the caller and
    the actor lives on; anything else goes back too and then crashes the actor, so the registry
    starts a fresh one for the next message (state lives in the store, not here).

    Group commit: calls already waiting in the inbox when the actor takes one are applied
    together, in order, in one database transaction; each command's own `transaction()` becomes
    a savepoint inside it, so a `DomainError` raised inside it undoes that command only. Replies go
    out only after the batch committed, so an answered change is durable. A crash undoes the
    whole batch; the other calls of the batch are then sent again to the fresh actor
    (`ActorRestarted`).
    """

    max_batch = 64

    def on_receive(self, message: Any) -> Any:
        if not isinstance(message, Call):
            return None
        batch = [message]
        inbox = self.actor_inbox
        while len(batch) < self.max_batch:
            try:
                envelope = inbox.get_nowait()
            except queue.Empty:
                break
            if isinstance(envelope.message, Call) and envelope.reply_to is None:
                batch.append(envelope.message)
            else:  # e.g. a stop request: handled after this batch, in its turn
                inbox.put(envelope)
                break
        if len(batch) == 1:
            self._apply_one(message)
        else:
            self._apply_batch(batch)
        return None

    def _apply_one(self, message: Call) -> None:
        try:
            result = getattr(self, message.method)(*message.args, **message.kwargs)
        except DomainError as error:
            message.fail(error)
            return
        except BaseException as error:
            message.fail(error)
            raise
        message.resolve(result)

    def _apply_batch(self, batch: list[Call]) -> None:
        from store.db import transaction, unit_of_work

        outcomes = []
        current = batch[0]
        try:
            with unit_of_work(), transaction():
                for current in batch:
                    # Each command's own `transaction()` is now a savepoint: an error raised inside
                    # it undoes that command only, and what it wrote before raising after its
                    # transaction is kept, exactly as when it runs alone.
                    try:
                        outcomes.append((current, getattr(self, current.method)(*current.args, **current.kwargs), None))
                    except DomainError as error:
                        outcomes.append((current, None, error))
        except BaseException as error:
            current.fail(error)
            for other in batch:
                if other is not current:
                    other.fail(ActorRestarted())  # undone with the batch: run it again
            raise
        answer(outcomes)  # one wake-up of each event loop for the whole batch

    def on_undelivered(self, message: Any) -> None:
        # A call still queued when the actor crashed or stopped never ran: the registry sends it
        # again to a fresh actor.
        if isinstance(message, Call):
            message.fail(ActorRestarted())
