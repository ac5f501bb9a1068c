"""Sending one dunning email: the `dunning_email` job of the durable scheduler (docs/dunning.md).

    actor.begin_dunning_email  (recovery still open? address not suppressed? what to write)
    -> writer.write_dunning    (template, or OpenAI with the template as fallback)
    -> mailer.send             (Message-ID <job id@sender domain>; outside the actor)
    -> actor.record_dunning_email_sent (job `done` + recovery's emails_sent, one transaction)

A closed recovery or an unsubscribed address ends the job `cancelled` / `skipped`; a mail server
that refuses or cannot be reached leaves nothing sent, so the job is tried again later
(`RetryLater`); a run interrupted by a dead process is not repeated (services/scheduler.py).
"""
from __future__ import annotations

import datetime as dt

from services.mailer import DeliveryFailed
from services.recovery import compose
from services.scheduler import JobKind
from services.writers import text_to_html
from services.writers.dunning import DunningBrief, format_amount
from store.payment_recoveries import EMAIL_JOB
from store.scheduled_jobs import JobEnded, RetryLater


async def send_dunning_email(ctx, job) -> str:
    actor = ctx.actors.project(job.project_id)
    parts = await actor.begin_dunning_email(job.ref, job.id, job.claim)
    name = (parts.get("customer_name") or "").split()
    brief = DunningBrief(first_name=name[0] if name else None, brand=parts["brand"],
                         amount=format_amount(parts["amount_due_cents"], parts["currency"]),
                         update_payment_url=parts["update_payment_url"], step=parts["step"],
                         steps=max(parts["steps"], parts["step"] + 1))
    written = await ctx.writer.write_dunning(brief)
    message = compose(ctx, job.project_id, {**parts, "subject": written.subject, "body_text": written.body_text,
                                            "body_html": text_to_html(written.body_text)}, message_id=job.id)
    try:
        message_id = await ctx.mailer.send(message)
    except DeliveryFailed as error:
        raise RetryLater(f"the email was not sent: {error}") from None
    if not await actor.record_dunning_email_sent(job.ref, job.id, job.claim, message_id):
        raise JobEnded("failed", "sent, but the claim had been lost before it was recorded")
    return message_id


# Refused or unreachable mail server: again after 5 and 30 minutes, then `failed`.
DUNNING_EMAIL = JobKind(EMAIL_JOB, send_dunning_email, max_lateness=dt.timedelta(hours=24),
                        lease_seconds=600.0, repeat_interrupted=False, retry_delays=(300.0, 1800.0),
                        records_outcome=True)
