"""The durable scheduler on the real database: due jobs run once, late ones are skipped, claims
are disjoint across connections, interrupted runs are settled by their kind's rule, and a
shutdown lets a running job finish."""
from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from services.scheduler import JobKind, Scheduler
from store import scheduled_jobs as jobs
from store.db import transaction, unit_of_work
from store.models import utcnow


def add_job(kind: str, due_in_seconds: float = 0.0, ref: str | None = None, payload: dict | None = None) -> str:
    with unit_of_work(), transaction():
        return jobs.schedule(kind, utcnow() + dt.timedelta(seconds=due_in_seconds), ref=ref, payload=payload)


def job(job_id: str) -> jobs.ScheduledJob:
    with unit_of_work():
        return jobs.ScheduledJob.get_by_id(job_id)


async def until(predicate, timeout: float = 15.0) -> bool:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


class Recorder:
    """A job kind's handler that remembers what it ran (and can be told to fail or wait)."""

    def __init__(self):
        self.ran: list[str] = []
        self.release = asyncio.Event()
        self.hold = False

    async def __call__(self, ctx, job):
        if job.data.get("raise") == "retry":
            raise jobs.RetryLater("the far side could not be reached")
        if job.data.get("raise") == "cancel":
            raise jobs.JobEnded("cancelled", "its owner closed")
        if self.hold:
            await self.release.wait()
        self.ran.append(job.id)
        return f"result-of-{job.id}"


@pytest.mark.gen_test(timeout=30)
async def test_a_due_job_runs_once_and_records_its_result_and_a_later_one_waits(ctx):
    recorder = Recorder()
    scheduler = Scheduler(ctx, [JobKind("probe", recorder)], poll_seconds=0.05).start()
    try:
        now_id = add_job("probe")
        later_id = add_job("probe", due_in_seconds=0.6)
        far_id = add_job("probe", due_in_seconds=3600)
        assert await until(lambda: job(later_id).status == "done")
        assert recorder.ran == [now_id, later_id]
        first = job(now_id)
        assert (first.status, first.result, first.attempts) == ("done", f"result-of-{now_id}", 1)
        assert first.finished_at is not None and first.claim is not None
        await asyncio.sleep(0.2)
        assert recorder.ran == [now_id, later_id], "nothing runs twice"
        assert job(far_id).status == "scheduled"
    finally:
        await scheduler.shutdown()


@pytest.mark.gen_test(timeout=30)
async def test_lateness_policy_is_per_kind(ctx):
    recorder = Recorder()
    strict = JobKind("strict", recorder)  # the default: more than 24 h late is skipped
    lenient = JobKind("lenient", recorder, max_lateness=None)
    scheduler = Scheduler(ctx, [strict, lenient], poll_seconds=0.05)
    late_strict = add_job("strict", due_in_seconds=-25 * 3600)
    late_lenient = add_job("lenient", due_in_seconds=-25 * 3600)
    recent = add_job("strict", due_in_seconds=-23 * 3600)
    scheduler.start()
    try:
        assert await until(lambda: all(job(j).status not in ("scheduled", "running")
                                       for j in (late_strict, late_lenient, recent)))
        skipped = job(late_strict)
        assert skipped.status == "skipped" and "25.0 h late" in skipped.error and "24 h" in skipped.error
        assert job(late_lenient).status == "done"
        assert job(recent).status == "done", "less than 24 h late still runs"
        assert late_strict not in recorder.ran
    finally:
        await scheduler.shutdown()


@pytest.mark.gen_test(timeout=30)
async def test_retry_later_reschedules_then_fails_and_job_ended_records_its_status(ctx):
    recorder = Recorder()
    kind = JobKind("flaky", recorder, retry_delays=(0.05, 0.05))
    scheduler = Scheduler(ctx, [kind], poll_seconds=0.05).start()
    try:
        flaky = add_job("flaky", payload={"raise": "retry"})
        closed = add_job("flaky", payload={"raise": "cancel"})
        assert await until(lambda: job(flaky).status == "failed" and job(closed).status == "cancelled")
        failed = job(flaky)
        assert failed.attempts == 3 and "gave up after 3 attempts" in failed.error
        assert job(closed).error == "its owner closed"
    finally:
        await scheduler.shutdown()


@pytest.mark.gen_test(timeout=30)
async def test_an_interrupted_run_is_failed_or_repeated_by_its_kinds_rule(ctx):
    once, repeatable = Recorder(), Recorder()
    kinds = [JobKind("once", once), JobKind("repeatable", repeatable, repeat_interrupted=True)]
    # A process claimed both and died: the claims hold a lease that has run out.
    first, second = add_job("once"), add_job("repeatable")
    with unit_of_work():
        claimed = jobs.claim_due(["once", "repeatable"], 10, lease_seconds=-1)
    assert {j.id for j in claimed} == {first, second}
    scheduler = Scheduler(ctx, kinds, poll_seconds=0.05, sweep_seconds=0.05).start()
    try:
        assert await until(lambda: job(first).status == "failed" and job(second).status == "done")
        assert "interrupted" in job(first).error
        assert once.ran == [] and repeatable.ran == [second]
        assert job(second).attempts == 2
    finally:
        await scheduler.shutdown()


@pytest.mark.gen_test(timeout=30)
async def test_shutdown_lets_a_running_job_finish_and_claims_nothing_more(ctx):
    recorder = Recorder()
    recorder.hold = True
    scheduler = Scheduler(ctx, [JobKind("slow", recorder)], poll_seconds=0.05).start()
    running = add_job("slow")
    assert await until(lambda: job(running).status == "running")
    stopping = asyncio.ensure_future(scheduler.shutdown())
    await asyncio.sleep(0.1)
    waiting = add_job("slow")
    assert not stopping.done(), "shutdown waits for the run in progress"
    recorder.release.set()
    await stopping
    assert job(running).status == "done"
    await asyncio.sleep(0.2)
    assert job(waiting).status == "scheduled", "nothing new is claimed while stopping"


def test_claims_from_many_connections_at_once_are_disjoint(ctx):
    ids = [add_job("probe") for _ in range(60)]
    claimed: list[list[str]] = []
    start = threading.Barrier(6)

    def claimer():
        start.wait()
        with unit_of_work():
            got = []
            while True:
                batch = jobs.claim_due(["probe"], 4, lease_seconds=60)
                if not batch:
                    break
                got.extend(j.id for j in batch)
        claimed.append(got)

    threads = [threading.Thread(target=claimer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    everything = [job_id for got in claimed for job_id in got]
    assert sorted(everything) == sorted(ids), "every job claimed exactly once"
