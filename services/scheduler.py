"""The durable scheduler: runs the jobs of `store/scheduled_jobs.py` when they come due.

One `Scheduler` per server process, started by `server.Server.listen` and shut down by
`Server.stop` (SIGTERM) before the actors stop. It runs on the IOLoop; every database step goes to the worker pool
(`run_db`) and a job's handler is a coroutine that does its I/O asynchronously and its state
changes through the project's actor, so nothing blocks the loop.

The loop, once a `poll_seconds` (default 1 s) or sooner when the earliest job is due sooner:
1. `next_due_at` (one index lookup, no lock): nothing due, sleep again. That is the whole idle cost.
2. Claim due jobs (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so two processes claim disjoint jobs;
   SQLite: the conditional UPDATE under its single writer), each with a lease.
3. Run each claimed job's handler (`JobKind.run`), at most `concurrency` at a time, and record
   the outcome under the claim: `done` (with the handler's result), `skipped`/`cancelled`
   (`JobEnded`), back to `scheduled` after a delay (`RetryLater`), or `failed`.
4. Every `sweep_seconds`, runs whose lease ran out (their process died) are settled by their
   kind's rule: run again (`repeat_interrupted`, for work that is safe to repeat) or recorded
   `failed` ("interrupted"), so that work with a side effect outside is never done twice.

Lateness: a job claimed more than its kind's `max_lateness` after it came due (the server was
down) is recorded `skipped` instead of run. See docs/architecture.md ("Scheduled work").
"""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from store import scheduled_jobs as jobs
from store.db import run_db
from store.models import utcnow
from store.serialize import iso

log = logging.getLogger("windback.scheduler")


@dataclass(frozen=True)
class JobKind:
    name: str
    # `await run(ctx, job)` does the work; returns a short result to keep (e.g. a Message-ID).
    run: Callable[[Any, jobs.ScheduledJob], Awaitable[str | None]]
    max_lateness: dt.timedelta | None = dt.timedelta(hours=24)  # None: run however late
    lease_seconds: float = 300.0  # longer than the handler can take, timeouts included
    repeat_interrupted: bool = False  # a run whose process died: run again (True) or record failed
    retry_delays: tuple[float, ...] = (60.0, 600.0)  # seconds before the attempts after RetryLater
    # True: `run` records `done` itself, in the transaction of its own state change (through its
    # actor), so the scheduler does not write the outcome a second time.
    records_outcome: bool = False
    # `await given_up(ctx, job)` after the scheduler itself ended a job without its handler
    # finishing it (too late, retries spent, an error, a run cut off by a dead process), so the
    # job's owner can move on (a campaign passes over the step). None: nothing to do.
    given_up: Callable[[Any, jobs.ScheduledJob], Awaitable[None]] | None = None


class Scheduler:
    def __init__(self, ctx, kinds: list[JobKind], poll_seconds: float = 1.0, batch: int = 50,
                 concurrency: int = 16, sweep_seconds: float = 30.0):
        self.ctx = ctx
        self.kinds = {kind.name: kind for kind in kinds}
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.sweep_seconds = sweep_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._running: set[asyncio.Task] = set()
        self._wake: asyncio.Event | None = None
        self._loop_task: asyncio.Task | None = None
        self._stopping = False
        self._last_sweep = 0.0
        self.ran = 0  # jobs run by this process (for /health and tests)

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> "Scheduler":
        if self._loop_task is None and self.kinds:
            self._stopping = False  # started again after a shutdown
            self._wake = asyncio.Event()
            self._loop_task = asyncio.get_running_loop().create_task(self._loop())
        return self

    def wake(self) -> None:
        """Look for due jobs now (call on the IOLoop thread, e.g. after scheduling one)."""
        if self._wake is not None:
            self._wake.set()

    async def shutdown(self, grace: float = 30.0) -> None:
        """Claim nothing more, let the runs in progress finish (up to `grace` seconds), stop.
        A run still going after that keeps its claim; its lease settles it after a restart."""
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
            self._loop_task = None
        if self._running:
            done, pending = await asyncio.wait(set(self._running), timeout=grace)
            if pending:
                log.warning("%d scheduled job(s) still running at shutdown", len(pending))

    # --- the loop -----------------------------------------------------------------------------

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        names = list(self.kinds)
        while not self._stopping:
            self._wake.clear()  # before looking: a wake-up while we look is not lost
            wait = self.poll_seconds
            try:
                if loop.time() - self._last_sweep >= self.sweep_seconds:
                    self._last_sweep = loop.time()
                    await self._settle_interrupted(names)
                due = await run_db(jobs.next_due_at, names)
                now = utcnow()
                if due is not None and due <= now:
                    wait = await self._claim_and_run(names)
                elif due is not None:
                    wait = min(wait, max(0.0, (due - now).total_seconds()))
            except Exception:  # noqa: BLE001 - a failed poll (database restarting) is tried again
                log.exception("scheduler poll failed")
            if wait <= 0:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=wait)
            except asyncio.TimeoutError:
                pass

    async def _claim_and_run(self, names: list[str]) -> float:
        free = self._concurrency - len(self._running)
        if free <= 0:
            return self.poll_seconds
        limit = min(free, self.batch)
        claimed = []
        # Each kind's claim lasts its own lease: a run cut off by a crash is settled after its
        # kind's lease, not the longest of all (a webhook attempt need not wait as long as an email).
        for lease, group in self._by_lease(names):
            if len(claimed) < limit:
                claimed += await run_db(jobs.claim_due, group, limit - len(claimed), lease)
        for job in claimed:
            task = asyncio.get_running_loop().create_task(self._run(job))
            self._running.add(task)
            task.add_done_callback(self._ran)
        # A full batch: more may be due already, look again at once.
        return 0.0 if len(claimed) == limit else self.poll_seconds

    def _by_lease(self, names: list[str]) -> list[tuple[float, list[str]]]:
        groups: dict[float, list[str]] = {}
        for name in names:
            groups.setdefault(self.kinds[name].lease_seconds, []).append(name)
        return sorted(groups.items())

    def _ran(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        if not self._stopping:
            self.wake()  # a slot is free again

    async def _run(self, job: jobs.ScheduledJob) -> None:
        kind = self.kinds[job.kind]
        async with self._slots:
            try:
                late = job.started_at - job.due_at
                if kind.max_lateness is not None and late > kind.max_lateness:
                    hours = late.total_seconds() / 3600
                    limit = kind.max_lateness.total_seconds() / 3600
                    await self._give_up(kind, job, "skipped",
                                        f"came due at {iso(job.due_at)} and was {hours:.1f} h late when the server "
                                        f"could run it; jobs of kind {job.kind} more than {limit:g} h late are "
                                        "skipped")
                    return
                result = await kind.run(self.ctx, job)
                if not kind.records_outcome:
                    await run_db(jobs.finish, job.id, job.claim, "done", result)
            except jobs.JobEnded as ended:
                await run_db(jobs.finish, job.id, job.claim, ended.status, None, ended.message)
            except jobs.RetryLater as retry:
                if retry.delay is not None:  # the handler keeps its own schedule
                    due = utcnow() + dt.timedelta(seconds=retry.delay)
                    await run_db(jobs.retry_later, job.id, job.claim, due, str(retry))
                elif job.attempts <= len(kind.retry_delays):
                    due = utcnow() + dt.timedelta(seconds=kind.retry_delays[job.attempts - 1])
                    await run_db(jobs.retry_later, job.id, job.claim, due, str(retry))
                else:
                    await self._give_up(kind, job, "failed", f"{retry} (gave up after {job.attempts} attempts)")
            except Exception as error:  # noqa: BLE001 - recorded on the job; the loop goes on
                log.exception("scheduled job %s (%s) failed", job.id, job.kind)
                try:
                    await self._give_up(kind, job, "failed", f"{type(error).__name__}: {error}")
                except Exception:  # noqa: BLE001 - the lease settles it later
                    log.exception("could not record the failure of job %s", job.id)
            finally:
                self.ran += 1

    async def _give_up(self, kind: JobKind, job: jobs.ScheduledJob, status: str, error: str,
                       reclaimed: bool = False) -> None:
        """End a job the handler did not finish, then let its owner move on (`given_up`)."""
        if reclaimed:
            ended = await run_db(jobs.reclaim, job, status, error)
        else:
            ended = await run_db(jobs.finish, job.id, job.claim, status, None, error)
        if ended and kind.given_up is not None:
            try:
                await kind.given_up(self.ctx, job)
            except Exception:  # noqa: BLE001 - the job's own outcome is recorded; log the rest
                log.exception("after giving up job %s (%s)", job.id, job.kind)

    async def _settle_interrupted(self, names: list[str]) -> None:
        for job in await run_db(jobs.expired_runs, names):
            kind = self.kinds[job.kind]
            if kind.repeat_interrupted:
                await run_db(jobs.reclaim, job, "scheduled", "the run was interrupted; running it again")
            else:
                await self._give_up(kind, job, "failed", "interrupted: the server stopped during this run, and it "
                                    "is not repeated in case the first run had already taken effect", reclaimed=True)
