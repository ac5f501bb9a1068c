"""Scheduled work that lives in the database: the table, the claim and the outcome of each job.

A job is one piece of timed work (a dunning email, later an outbound webhook retry): `kind` says
which handler runs it (`services/scheduler.py`), `ref` and `payload` say what it is about. Its id
is given before anything outside is called and travels as the idempotency key (an email's
Message-ID), so the outside world can tell a repeat.

Statuses: `scheduled` -> `running` (claimed by one process, with a lease) -> `done` | `failed` |
`skipped` (came due too late) | `cancelled` (the work it belonged to closed). Every change is a
conditional UPDATE on the status (and, once claimed, on the claim token), so two processes never
both run a job and a late answer of a process that lost its claim changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets

import peewee

from store.db import is_sqlite, transaction
from store.errors import DomainError
from store.models import BaseModel, Project, new_id, utcnow

FINAL_STATUSES = ("done", "failed", "skipped", "cancelled")


class ScheduledJob(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("job"))
    kind = peewee.CharField(max_length=40)
    project = peewee.ForeignKeyField(Project, null=True, on_delete="CASCADE")
    ref = peewee.CharField(max_length=64, null=True)  # the object the job works for, e.g. "pr_..."
    payload = peewee.TextField(default="{}")  # JSON object: what the handler needs besides `ref`
    due_at = peewee.DateTimeField()
    status = peewee.CharField(max_length=12, default="scheduled")
    attempts = peewee.IntegerField(default=0)
    claim = peewee.CharField(max_length=32, null=True)  # token of the process run that holds it
    claimed_until = peewee.DateTimeField(null=True)  # the lease: after it, the run is presumed dead
    started_at = peewee.DateTimeField(null=True)  # last claim
    finished_at = peewee.DateTimeField(null=True)
    result = peewee.CharField(max_length=255, null=True)  # e.g. the Message-ID of a sent email
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "scheduled_jobs"
        indexes = (
            # The poller's only query when idle: the earliest due job, read off this index.
            (("status", "due_at"), False),
            # A job's owner looks up (and cancels) its jobs.
            (("kind", "ref"), False),
        )

    @property
    def data(self) -> dict:
        return json.loads(self.payload or "{}")


def schedule(kind: str, due_at: dt.datetime, project_id: str | None = None, ref: str | None = None,
             payload: dict | None = None) -> str:
    """Add a job (inside the caller's transaction, so it commits with the change that caused it)."""
    job_id = new_id("job")
    ScheduledJob.insert(id=job_id, kind=kind, project=project_id, ref=ref, payload=json.dumps(payload or {}),
                        due_at=due_at, status="scheduled", attempts=0, created_at=utcnow()).execute()
    return job_id


def claim_due(kinds: list[str], limit: int, lease_seconds: float,
              now: dt.datetime | None = None) -> list[ScheduledJob]:
    """Claim up to `limit` jobs that are due, earliest first, for this run. PostgreSQL: rows locked
    by another process's claim are skipped (`FOR UPDATE SKIP LOCKED`), so several processes share
    the work without waiting on each other; SQLite has one writer at a time, and the conditional
    UPDATE (`status = 'scheduled'`) is the claim."""
    now = now or utcnow()
    token = secrets.token_hex(8)
    # The jobs of one owner (kind and ref: a recovery's dunning emails, a churn's campaign steps)
    # run one at a time in due order: after an outage the first reminder still arrives before
    # the final notice, even when both are overdue by the time the server looks.
    earlier = ScheduledJob.alias()
    waits_for_earlier = peewee.fn.EXISTS(
        earlier.select(earlier.id).where(
            (earlier.kind == ScheduledJob.kind) & (earlier.ref == ScheduledJob.ref)
            & earlier.status.in_(("scheduled", "running"))
            & ((earlier.due_at < ScheduledJob.due_at)
               | ((earlier.due_at == ScheduledJob.due_at) & (earlier.id < ScheduledJob.id)))))
    due = (ScheduledJob.select(ScheduledJob.id)
           .where((ScheduledJob.status == "scheduled") & (ScheduledJob.due_at <= now)
                  & ScheduledJob.kind.in_(kinds) & ~waits_for_earlier)
           .order_by(ScheduledJob.due_at).limit(limit))
    if not is_sqlite():
        due = due.for_update(skip_locked=True)
    with transaction():
        claimed = (ScheduledJob.update(status="running", claim=token, started_at=now,
                                       claimed_until=now + dt.timedelta(seconds=lease_seconds),
                                       attempts=ScheduledJob.attempts + 1)
                   .where((ScheduledJob.status == "scheduled") & ScheduledJob.id.in_(due)).execute())
        if not claimed:
            return []
        return list(ScheduledJob.select()
                    .where((ScheduledJob.status == "running") & (ScheduledJob.claim == token))
                    .order_by(ScheduledJob.due_at))


def next_due_at(kinds: list[str]) -> dt.datetime | None:
    """When the earliest scheduled job of these kinds comes due (an index lookup)."""
    row = (ScheduledJob.select(ScheduledJob.due_at)
           .where((ScheduledJob.status == "scheduled") & ScheduledJob.kind.in_(kinds))
           .order_by(ScheduledJob.due_at).limit(1).first())
    return row.due_at if row else None


def finish(job_id: str, claim: str, status: str, result: str | None = None, error: str | None = None) -> bool:
    """Record the outcome of a claimed run; False when the claim was lost (nothing changes)."""
    assert status in FINAL_STATUSES
    with transaction():
        return bool(ScheduledJob.update(status=status, result=result, error=error, finished_at=utcnow(),
                                        claimed_until=None)
                    .where((ScheduledJob.id == job_id) & (ScheduledJob.status == "running")
                           & (ScheduledJob.claim == claim)).execute())


def retry_later(job_id: str, claim: str, due_at: dt.datetime, error: str) -> bool:
    """Put a claimed job back for another attempt at `due_at` (nothing was done outside)."""
    with transaction():
        return bool(ScheduledJob.update(status="scheduled", due_at=due_at, error=error, claim=None,
                                        claimed_until=None)
                    .where((ScheduledJob.id == job_id) & (ScheduledJob.status == "running")
                           & (ScheduledJob.claim == claim)).execute())


def expired_runs(kinds: list[str], now: dt.datetime | None = None, limit: int = 100) -> list[ScheduledJob]:
    """Jobs whose run outlived its lease: the process that claimed them died (kill -9, a crash)."""
    return list(ScheduledJob.select()
                .where((ScheduledJob.status == "running") & (ScheduledJob.claimed_until < (now or utcnow()))
                       & ScheduledJob.kind.in_(kinds))
                .limit(limit))


def reclaim(job: ScheduledJob, status: str, error: str | None = None) -> bool:
    """After a dead run: back to `scheduled` (kinds safe to repeat) or to a final status."""
    changes = {"claim": None, "claimed_until": None, "error": error}
    if status != "scheduled":
        changes["finished_at"] = utcnow()
    with transaction():
        return bool(ScheduledJob.update(status=status, **changes)
                    .where((ScheduledJob.id == job.id) & (ScheduledJob.status == "running")
                           & (ScheduledJob.claim == job.claim)).execute())


def cancel(kind: str, ref: str, reason: str) -> int:
    """Cancel the jobs of `ref` not yet claimed; returns how many. A run already claimed finishes
    (its handler checks its owner's state first, under the same guard)."""
    return (ScheduledJob.update(status="cancelled", error=reason, finished_at=utcnow())
            .where((ScheduledJob.kind == kind) & (ScheduledJob.ref == ref) & (ScheduledJob.status == "scheduled"))
            .execute())


def jobs_for(kind: str, refs: list[str]) -> list[ScheduledJob]:
    if not refs:
        return []
    return list(ScheduledJob.select().where((ScheduledJob.kind == kind) & (ScheduledJob.ref.in_(refs)))
                .order_by(ScheduledJob.due_at, ScheduledJob.id))



class JobEnded(DomainError):
    """Raised by a job's handler (or the layers below it, an actor command included: a domain
    error travels back to the caller) to end the run with a final status other than `done`:
    `skipped` (e.g. the address unsubscribed) or `cancelled` (its owner closed)."""

    code = "CONFLICT"

    def __init__(self, status: str, message: str):
        assert status in ("skipped", "cancelled", "failed")
        super().__init__(message)
        self.status = status


class RetryLater(Exception):
    """Raised by a job's handler when nothing was done outside and another attempt may succeed
    (e.g. the mail server could not be reached). The kind's retry delays say when, and how often;
    a handler that keeps its own schedule (outbound webhooks) gives `delay` in seconds instead."""

    def __init__(self, message: str = "", delay: float | None = None):
        super().__init__(message)
        self.delay = delay
