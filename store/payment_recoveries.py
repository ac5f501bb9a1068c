"""Failed-payment recoveries: where a recovery changes state (docs/dunning.md).

A recovery is opened by a failed payment (a provider's webhook or a custom sender), one per
(project, provider, invoice); a later failure of the same invoice raises `attempt_count`. It is
closed `recovered` (the invoice was paid), `failed` (the provider gave up on the subscription) or
`stopped` (a person, or the customer unsubscribing). Opening schedules one dunning email per step
of `settings.dunning` in `scheduled_jobs` in the same transaction; closing cancels the ones not yet
sent. Every change is a conditional UPDATE on `status = 'open'`, so two processes (or a replayed
webhook) cannot close a recovery twice or email after it closed.

These functions run inside the project actor's unit of work (actors/payment_recoveries.py, or the
webhook drain that applies stored events).
"""
from __future__ import annotations

import datetime as dt

import peewee

from store import customers, scheduled_jobs
from store.db import transaction
from store.errors import Conflict, not_found
from store.scheduled_jobs import JobEnded
from store.models import BaseModel, Project, new_id, utcnow
from store.outbound import record_event
from store.projects import project_settings
from store.suppressions import is_suppressed

RECOVERY_STATUSES = ("open", "recovered", "failed", "stopped")
EMAIL_JOB = "dunning_email"  # the scheduled job kind of one dunning email
PROVIDERS = ("stripe", "razorpay", "custom")


class PaymentRecovery(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("pr"))
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    provider = peewee.CharField(max_length=16)
    invoice_id = peewee.CharField(max_length=200)
    subscription_id = peewee.CharField(max_length=200, null=True)
    customer_email = peewee.CharField(max_length=254, null=True)
    customer_name = peewee.CharField(max_length=200, null=True)
    customer_id = peewee.CharField(max_length=200, null=True)
    amount_due_cents = peewee.BigIntegerField(default=0)
    currency = peewee.CharField(max_length=3, default="USD")
    attempt_count = peewee.IntegerField(default=1)
    update_payment_url = peewee.TextField(null=True)
    status = peewee.CharField(max_length=12, default="open")
    started_at = peewee.DateTimeField()  # the provider's time of the first failure
    recovered_at = peewee.DateTimeField(null=True)
    closed_at = peewee.DateTimeField(null=True)
    amount_recovered_cents = peewee.BigIntegerField(null=True)
    emails_sent = peewee.IntegerField(default=0)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "payment_recoveries"
        indexes = (
            (("project", "provider", "invoice_id"), True),
            (("project", "created_at", "id"), False),
            (("project", "amount_due_cents", "id"), False),
            (("project", "status", "created_at"), False),
            (("project", "customer_email"), False),
            (("project", "subscription_id"), False),
            (("project", "started_at"), False),
        )


def dunning_steps(project_id: str) -> list[float]:
    """The project's dunning steps in hours after the failure; empty when dunning is off."""
    dunning = project_settings(Project.get_by_id(project_id))["dunning"]
    if not dunning.get("enabled", True):
        return []
    return [float(step["after_hours"]) for step in dunning.get("steps") or []
            if isinstance(step, dict) and isinstance(step.get("after_hours"), (int, float))]


def open_recovery(project_id: str, provider: str, fields: dict, occurred_at: dt.datetime) -> tuple[PaymentRecovery, bool]:
    """Open the recovery of a failed invoice, or count another failed attempt of an existing one.
    `fields`: invoice_id, subscription_id, customer_email, customer_name, customer_id,
    amount_due_cents, currency, attempt_count (None: one more), update_payment_url."""
    existing = _existing(project_id, provider, fields)
    if existing is None:
        now = utcnow()
        values = {key: value for key, value in fields.items() if value is not None and key != "attempt_count"}
        try:
            with transaction():  # a savepoint: another process may have opened it a moment ago
                recovery = PaymentRecovery.create(
                    id=new_id("pr"), project=project_id, provider=provider, status="open",
                    attempt_count=fields.get("attempt_count") or 1, started_at=occurred_at,
                    created_at=now, updated_at=now, **values)
                for step, hours in enumerate(dunning_steps(project_id)):
                    scheduled_jobs.schedule(EMAIL_JOB, occurred_at + dt.timedelta(hours=hours), project_id,
                                            recovery.id, {"step": step})
                customers.touch(project_id, customer_id=recovery.customer_id,
                                customer_email=recovery.customer_email, kind="recovery", at=occurred_at,
                                customer_name=recovery.customer_name, open_recovery=True)
                _announce("payment_recovery.opened", recovery.id)
            return recovery, True
        except peewee.IntegrityError:
            existing = _existing(project_id, provider, fields)
            if existing is None:
                raise
    attempts = fields.get("attempt_count")
    changes = {"updated_at": utcnow(),
               "attempt_count": (peewee.Case(None, [(PaymentRecovery.attempt_count < attempts, attempts)],
                                             PaymentRecovery.attempt_count) if attempts
                                 else PaymentRecovery.attempt_count + 1)}
    for key in ("update_payment_url", "customer_email", "customer_name", "customer_id", "subscription_id"):
        if fields.get(key) and not getattr(existing, key):
            changes[key] = fields[key]
    PaymentRecovery.update(**changes).where(PaymentRecovery.id == existing.id).execute()
    return PaymentRecovery.get_by_id(existing.id), False


def _existing(project_id: str, provider: str, fields: dict) -> PaymentRecovery | None:
    found = PaymentRecovery.get_or_none((PaymentRecovery.project == project_id)
                                        & (PaymentRecovery.provider == provider)
                                        & (PaymentRecovery.invoice_id == fields["invoice_id"]))
    if found is None and provider == "razorpay" and fields.get("subscription_id"):
        # Razorpay reports one failed charge as `payment.failed` and `subscription.pending`, which
        # name it differently: an open recovery of the subscription is that same charge.
        found = (PaymentRecovery.select()
                 .where((PaymentRecovery.project == project_id) & (PaymentRecovery.provider == provider)
                        & (PaymentRecovery.subscription_id == fields["subscription_id"])
                        & (PaymentRecovery.status == "open")).first())
    return found


def close(recovery_id: str, status: str, when: dt.datetime, amount_cents: int | None = None) -> bool:
    """Close an open recovery and cancel its unsent emails; False when it was not open."""
    changes = {"status": status, "closed_at": when, "updated_at": utcnow()}
    if status == "recovered":
        changes["recovered_at"] = when
        changes["amount_recovered_cents"] = (amount_cents if amount_cents is not None
                                             else PaymentRecovery.amount_due_cents)
    with transaction():
        closed = PaymentRecovery.update(**changes).where(
            (PaymentRecovery.id == recovery_id) & (PaymentRecovery.status == "open")).execute()
        if closed:
            scheduled_jobs.cancel(EMAIL_JOB, recovery_id, f"the recovery was closed: {status}")
            _customer_recovery_closed(recovery_id)
            if status in ("recovered", "failed"):
                _announce(f"payment_recovery.{status}", recovery_id)
    return bool(closed)


def _announce(event_type: str, recovery_id: str) -> None:
    """Queue the outbound event in the transaction of the change (docs/outbound-webhooks.md)."""
    from store.payment_recovery_views import recovery_json  # the views module imports this one

    recovery = PaymentRecovery.get_by_id(recovery_id)
    record_event(recovery.project_id, event_type, lambda: recovery_json(recovery))


def _customer_recovery_closed(recovery_id: str) -> None:
    """The customer's risk stops counting an open payment recovery once none of theirs is open."""
    recovery = (PaymentRecovery.select(PaymentRecovery.project, PaymentRecovery.customer_id,
                                       PaymentRecovery.customer_email)
                .where(PaymentRecovery.id == recovery_id).get())
    same_customer = ((PaymentRecovery.customer_id == recovery.customer_id) if recovery.customer_id
                     else (PaymentRecovery.customer_email == recovery.customer_email))
    still_open = (PaymentRecovery.select().where((PaymentRecovery.project == recovery.project_id)
                                                 & (PaymentRecovery.status == "open") & same_customer)
                  .exists())
    customers.touch(recovery.project_id, customer_id=recovery.customer_id, customer_email=recovery.customer_email,
                    open_recovery=still_open)


def close_matching(project_id: str, provider: str, status: str, when: dt.datetime, invoice_id: str | None = None,
                   subscription_id: str | None = None, amount_cents: int | None = None) -> list[str]:
    """Close the open recoveries of an invoice (a payment succeeded) or of a subscription (the
    provider gave up, or charged it); returns their ids."""
    if not invoice_id and not subscription_id:
        return []
    match = (PaymentRecovery.invoice_id == invoice_id) if invoice_id else \
        (PaymentRecovery.subscription_id == subscription_id)
    open_ones = (PaymentRecovery.select(PaymentRecovery.id)
                 .where((PaymentRecovery.project == project_id) & (PaymentRecovery.provider == provider)
                        & (PaymentRecovery.status == "open") & match))
    return [row.id for row in open_ones if close(row.id, status, when, amount_cents)]


def stop(project_id: str, recovery_id: str) -> PaymentRecovery:
    """`POST .../payment-recoveries/:id/stop`: 404 unknown, 409 when it is not open."""
    recovery = get(project_id, recovery_id)
    if not close(recovery.id, "stopped", utcnow()):
        raise Conflict(f"The payment recovery is {recovery.status}, not open; only an open one can be stopped")
    return PaymentRecovery.get_by_id(recovery.id)


def stop_for_email(project_id: str, email: str) -> int:
    """The customer unsubscribed: stop their open recoveries."""
    rows = (PaymentRecovery.select(PaymentRecovery.id)
            .where((PaymentRecovery.project == project_id) & (PaymentRecovery.customer_email == email.lower())
                   & (PaymentRecovery.status == "open")))
    return sum(1 for row in rows if close(row.id, "stopped", utcnow()))


def get(project_id: str, recovery_id: str) -> PaymentRecovery:
    recovery = PaymentRecovery.get_or_none((PaymentRecovery.id == recovery_id)
                                           & (PaymentRecovery.project == project_id))
    if recovery is None:
        raise not_found("Payment recovery")
    return recovery


# --- one dunning email: claim -> send (outside) -> record ----------------------------------------

def begin_email(project_id: str, recovery_id: str, job_id: str, claim: str) -> dict:
    """Before sending a claimed dunning email: the recovery must still be open and the address
    not suppressed (else the job ends `cancelled` / `skipped`). Returns what the email needs."""
    recovery = get(project_id, recovery_id)
    job = scheduled_jobs.ScheduledJob.get_by_id(job_id)
    if job.status != "running" or job.claim != claim:
        raise JobEnded("cancelled", "the job's claim was lost")
    if recovery.status != "open":
        raise JobEnded("cancelled", f"the recovery was closed: {recovery.status}")
    if not recovery.customer_email:
        raise JobEnded("skipped", "no email address is known for this customer")
    if is_suppressed(project_id, recovery.customer_email):
        raise JobEnded("skipped", "the address unsubscribed")
    project = Project.get_by_id(project_id)
    settings = project_settings(project)
    return {"to": recovery.customer_email, "customer_name": recovery.customer_name,
            "amount_due_cents": recovery.amount_due_cents, "currency": recovery.currency,
            "update_payment_url": recovery.update_payment_url, "step": job.data.get("step", 0),
            "steps": len(settings["dunning"].get("steps") or []),
            "brand": settings.get("brand_name") or project.name, "mail_from": settings.get("mail_from")}


def email_sent(recovery_id: str, job_id: str, claim: str, message_id: str) -> bool:
    """Record the email as sent (the job `done` with its Message-ID, one more on the recovery),
    in one transaction; False when the claim was lost meanwhile."""
    with transaction():
        if not scheduled_jobs.finish(job_id, claim, "done", result=message_id):
            return False
        PaymentRecovery.update(emails_sent=PaymentRecovery.emails_sent + 1, updated_at=utcnow()).where(
            PaymentRecovery.id == recovery_id).execute()
    return True
