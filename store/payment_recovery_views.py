"""Reading payment recoveries: their JSON (with the dunning emails), the list, the `payment_recovery`
block of `/stats` and the monthly figures of the dashboard's "Failed payments" page."""
from __future__ import annotations

import datetime as dt

from peewee import SQL, fn

from store import scheduled_jobs
from store.analytics import month_label, month_of
from store.payment_recoveries import EMAIL_JOB, PaymentRecovery, get
from store.serialize import iso

SORT_FIELDS = ("created_at", "amount_due_cents")
# A job's status as an email's: a claimed one is still on its way.
EMAIL_STATUS = {"scheduled": "scheduled", "running": "scheduled", "done": "sent", "skipped": "skipped",
                "cancelled": "cancelled", "failed": "failed"}


def email_json(job: scheduled_jobs.ScheduledJob) -> dict:
    return {"step": job.data.get("step", 0), "status": EMAIL_STATUS[job.status], "due_at": iso(job.due_at),
            "sent_at": iso(job.finished_at) if job.status == "done" else None,
            "message_id": job.result if job.status == "done" else None, "error": job.error}


def recovery_json(recovery: PaymentRecovery, with_emails: bool = False,
                  emails: list[scheduled_jobs.ScheduledJob] | None = None) -> dict:
    if emails is None:
        emails = scheduled_jobs.jobs_for(EMAIL_JOB, [recovery.id])
    waiting = [job.due_at for job in emails if job.status in ("scheduled", "running")]
    data = {
        "id": recovery.id,
        "customer_email": recovery.customer_email,
        "customer_name": recovery.customer_name,
        "customer_id": recovery.customer_id,
        "provider": recovery.provider,
        "invoice_id": recovery.invoice_id,
        "subscription_id": recovery.subscription_id,
        "amount_due_cents": recovery.amount_due_cents,
        "currency": recovery.currency,
        "attempt_count": recovery.attempt_count,
        "update_payment_url": recovery.update_payment_url,
        "status": recovery.status,
        "started_at": iso(recovery.started_at),
        "recovered_at": iso(recovery.recovered_at),
        "closed_at": iso(recovery.closed_at),
        "amount_recovered_cents": recovery.amount_recovered_cents,
        "emails_sent": recovery.emails_sent,
        "next_email_at": iso(min(waiting)) if waiting and recovery.status == "open" else None,
        "created_at": iso(recovery.created_at),
        "updated_at": iso(recovery.updated_at),
    }
    if with_emails:
        data["emails"] = [email_json(job) for job in sorted(emails, key=lambda j: (j.data.get("step", 0), j.due_at))]
    return data


def list_recoveries(project_id: str, filters: dict, sort: str, order: str, offset: int,
                    limit: int) -> tuple[list[dict], int]:
    assert sort in SORT_FIELDS
    condition = PaymentRecovery.project == project_id
    if filters.get("status"):
        condition &= PaymentRecovery.status == filters["status"]
    if filters.get("customer_email"):
        condition &= PaymentRecovery.customer_email == filters["customer_email"].lower()
    column = getattr(PaymentRecovery, sort)
    ordering = (column.desc(), PaymentRecovery.id.desc()) if order == "desc" else (column.asc(), PaymentRecovery.id)
    query = PaymentRecovery.select().where(condition)
    total = query.count()
    rows = list(query.order_by(*ordering).offset(offset).limit(limit))
    jobs: dict[str, list] = {}
    for job in scheduled_jobs.jobs_for(EMAIL_JOB, [row.id for row in rows]):
        jobs.setdefault(job.ref, []).append(job)
    return [recovery_json(row, emails=jobs.get(row.id, [])) for row in rows], total


def get_json(project_id: str, recovery_id: str) -> dict:
    return recovery_json(get(project_id, recovery_id), with_emails=True)


def _scoped(project_id: str, start: dt.datetime | None, end: dt.datetime | None, currency: str | None):
    condition = PaymentRecovery.project == project_id
    if start is not None:
        condition &= PaymentRecovery.started_at >= start
    if end is not None:
        condition &= PaymentRecovery.started_at < end
    if currency is not None:
        condition &= PaymentRecovery.currency == currency
    return condition


def stats(project_id: str, start: dt.datetime | None = None, end: dt.datetime | None = None,
          currency: str | None = None) -> dict:
    """`payment_recovery` of `/stats`: recoveries whose `started_at` is in [start, end). Amounts per
    currency; `recovered_after_step` counts recovered ones by the last step emailed before
    the payment came in ("0": after the first email); one recovered before any email is not in it."""
    counts = {"opened": 0, "recovered": 0, "failed": 0, "stopped": 0, "open": 0}
    due: dict[str, int] = {}
    won: dict[str, int] = {}
    after_step: dict[str, int] = {}
    rows = (PaymentRecovery
            .select(PaymentRecovery.status, PaymentRecovery.currency, PaymentRecovery.emails_sent,
                    fn.COUNT(SQL("*")), fn.SUM(PaymentRecovery.amount_due_cents),
                    fn.SUM(fn.COALESCE(PaymentRecovery.amount_recovered_cents, 0)))
            .where(_scoped(project_id, start, end, currency))
            .group_by(PaymentRecovery.status, PaymentRecovery.currency, PaymentRecovery.emails_sent).tuples())
    for status, money, sent, count, amount_due, amount_won in rows:
        counts["opened"] += count
        counts[status] = counts.get(status, 0) + count
        due[money] = due.get(money, 0) + int(amount_due or 0)
        won.setdefault(money, 0)
        if status == "recovered":
            won[money] += int(amount_won or 0)
            if sent:
                key = str(sent - 1)
                after_step[key] = after_step.get(key, 0) + count
    return {**counts, "recovery_rate": counts["recovered"] / counts["opened"] if counts["opened"] else 0.0,
            "amount_due_cents": dict(sorted(due.items())), "amount_recovered_cents": dict(sorted(won.items())),
            "recovered_after_step": dict(sorted(after_step.items(), key=lambda item: int(item[0])))}


def monthly(project_id: str, months: int = 12) -> list[dict]:
    """Per calendar month of `started_at` (the last `months` months with any recovery, oldest
    first): opened, recovered, recovery_rate and the amount recovered per currency."""
    month = month_of(PaymentRecovery.started_at)
    recovered = fn.SUM(SQL("CASE WHEN status = 'recovered' THEN 1 ELSE 0 END"))
    rows = (PaymentRecovery
            .select(month, PaymentRecovery.currency, fn.COUNT(SQL("*")), recovered,
                    fn.SUM(fn.COALESCE(PaymentRecovery.amount_recovered_cents, 0)))
            .where(PaymentRecovery.project == project_id)
            .group_by(month, PaymentRecovery.currency).tuples())
    table: dict[str, dict] = {}
    for value, money, count, won_count, won in rows:
        entry = table.setdefault(month_label(value), {"opened": 0, "recovered": 0, "amount_recovered_cents": {}})
        entry["opened"] += count
        entry["recovered"] += int(won_count or 0)
        entry["amount_recovered_cents"][money] = int(won or 0)
    return [{"month": key, **entry, "recovery_rate": entry["recovered"] / entry["opened"]}
            for key, entry in sorted(table.items())[-months:]]
