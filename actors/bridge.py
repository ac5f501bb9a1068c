"""Calling an actor from the IOLoop without blocking it.

`await future` on a Pykka future blocks inside `__await__` (LIBRARY-NOTES), so handlers do not
use Pykka futures at all: a `Call` message carries an asyncio future, and the actor resolves it
with `loop.call_soon_threadsafe`. No thread waits while the actor works.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Call:
    method: str
    args: tuple
    kwargs: dict
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future = field(repr=False)

    def resolve(self, result: Any) -> None:
        self.loop.call_soon_threadsafe(_set_result, self.future, result)

    def fail(self, error: BaseException) -> None:
        self.loop.call_soon_threadsafe(_set_exception, self.future, error)


def _set_result(future: asyncio.Future, result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _set_exception(future: asyncio.Future, error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


class BridgedActorMixin:
    """`on_receive` for `Call` messages. Expected errors (`ApiError`) go back to the caller and
    the actor lives on; anything else goes back too and then crashes the actor, so the registry
    starts a fresh one for the next message (state lives in the store, not here)."""

    def on_receive(self, message: Any) -> Any:
        if not isinstance(message, Call):
            return None
        from handlers.errors import ApiError

        try:
            result = getattr(self, message.method)(*message.args, **message.kwargs)
        except ApiError as error:
            message.fail(error)
            return None
        except BaseException as error:
            message.fail(error)
            raise
        message.resolve(result)
        return None
