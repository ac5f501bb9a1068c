"""Group commit: many concurrent requests share one transaction.

A `GroupCommitter` owns one writer thread. `await committer.submit(item)` queues the item; the
thread takes whatever has queued (up to `max_batch`, after sleeping `window` seconds once the
first arrives), writes the whole batch with `write_batch(items)` in one transaction and
resolves each caller's future with its own result. A request is answered only after its batch
has committed, so an acknowledged item is durable. If a batch fails, its items are retried one by
one, so one bad item fails alone.

Measured on a 2-core machine: one insert per request keeps about half of bare
Tornado's throughput; batching every few milliseconds keeps over 80%.
"""
from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from typing import Any, Callable, Sequence

from store.db import transaction, unit_of_work

log = logging.getLogger("windback.group_commit")
_STOP = object()


class GroupCommitter:
    def __init__(self, name: str, write_batch: Callable[[Sequence[Any]], Sequence[Any]],
                 max_batch: int = 500, window: float = 0.002):
        self.name = name
        self._write_batch = write_batch
        self._max_batch = max_batch
        self._window = window
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"group-commit-{name}", daemon=True)
        self._thread.start()

    async def submit(self, item: Any) -> Any:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._queue.put((item, loop, future))
        return await future

    def stop(self, timeout: float = 10.0) -> None:
        """Write what is queued, then end the thread."""
        self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            # Sleep through the window, then take what queued: a blocking get() per item would
            # wake this thread once per request (60-100 us each across cores).
            time.sleep(self._window)
            stopping = False
            while len(batch) < self._max_batch:
                try:
                    entry = self._queue.get_nowait()
                except queue.Empty:
                    break
                if entry is _STOP:
                    stopping = True
                    break
                batch.append(entry)
            self._commit(batch)
            if stopping:
                return

    def _commit(self, batch: list) -> None:
        items = [item for item, _, _ in batch]
        try:
            with unit_of_work():
                with transaction():
                    results = list(self._write_batch(items))
        except Exception as error:  # noqa: BLE001 - goes back to the callers
            if len(batch) > 1:
                for entry in batch:  # one bad item must not fail the others
                    self._commit([entry])
                return
            log.warning("group commit %s: write failed: %r", self.name, error)
            _, loop, future = batch[0]
            loop.call_soon_threadsafe(_resolve, future, None, error)
            return
        # One wake-up of each event loop per batch, not one per caller: every
        # call_soon_threadsafe writes to the loop's self-pipe.
        by_loop: dict = {}
        for (_, loop, future), result in zip(batch, results):
            by_loop.setdefault(loop, []).append((future, result))
        for loop, outcomes in by_loop.items():
            loop.call_soon_threadsafe(_resolve_all, outcomes)


def _resolve_all(outcomes: list) -> None:
    for future, result in outcomes:
        _resolve(future, result, None)


def _resolve(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
