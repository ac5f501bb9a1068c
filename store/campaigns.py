"""Automatic win-back campaigns: the one place where a churn event's campaign changes state.

    join (when the churn is recorded) -> active --step_done...--> completed
                                          |
                                          +--end(reason)--> ended   (recovered, saved, unsubscribed,
                                                                     manual_send, stopped)

The state lives on the churn event (`campaign_*` columns); each treatment step is a scheduled job
(`scheduled_jobs`, kind `campaign_step`, `ref` the churn event) created in the transaction that
joins, and cancelled in the transaction that ends. Every change is a conditional UPDATE on
`campaign_status`, so it holds across processes. The functions run inside their caller's
transaction (the recording, recovery, save, unsubscribe or send of the event). docs/campaigns.md
explains the rules for merchants.
"""
from __future__ import annotations

import datetime as dt

from store import scheduled_jobs
from store.campaign_settings import customer_key, group_for, matches
from store.db import is_sqlite, transaction
from store.errors import conflict
from store.models import OPEN_STATUSES, ChurnEvent, utcnow
from store.projects import settings_of
from store.serialize import iso

KIND = "campaign_step"
ACTIVE, COMPLETED, ENDED = "active", "completed", "ended"
END_REASONS = ("recovered", "saved", "unsubscribed", "manual_send", "stopped")
NOT_ACTIVE = "CAMPAIGN_NOT_ACTIVE"  # error code: the campaign ended while a step was on its way


def campaign_json(group, step, next_send_at, status, ended_reason) -> dict | None:
    """The `campaign` field of a churn event; null when it never joined one."""
    if group is None:
        return None
    return {"group": group, "step": step or 0, "next_send_at": iso(next_send_at), "status": status,
            "ended_reason": ended_reason}


def _set(event_id: str, changes: dict, condition) -> bool:
    return bool(ChurnEvent.update(**changes).where((ChurnEvent.id == event_id) & condition).execute())


def join(project_id: str, event: ChurnEvent, now: dt.datetime | None = None) -> bool:
    """Put a just-recorded churn into the project's campaign if it matches: an open event not
    in one yet, churned within `lost_after_days`, of a customer we can identify. Treatment gets
    one scheduled job per step; holdout gets none. Updates `event` in place; True if it joined."""
    if event.campaign_group is not None or event.status not in OPEN_STATUSES:
        return False
    settings = settings_of(project_id)
    campaign = settings["campaign"]
    if not matches(campaign, event.cancel_reason, event.mrr_cents):
        return False
    now = now or utcnow()
    key = customer_key(event.customer_id, event.customer_email)
    if key is None or event.churned_at < now - dt.timedelta(days=int(settings["lost_after_days"])):
        return False  # nobody to address, or history being imported: not a churn to win back now
    group = group_for(project_id, key, float(campaign["holdout_percent"]))
    next_send_at = None
    if group == "treatment":
        steps = campaign["steps"]
        for number, step in enumerate(steps, start=1):
            due = now + dt.timedelta(hours=step["after_hours"])
            scheduled_jobs.schedule(KIND, due, project_id, event.id,
                                    {"step": number, "of": len(steps), "strategy": step["strategy"]})
            next_send_at = next_send_at or due
    changes = {"campaign_group": group, "campaign_step": 0, "campaign_next_send_at": next_send_at,
               "campaign_status": ACTIVE, "campaign_ended_reason": None}
    if not _set(event.id, changes, ChurnEvent.campaign_group.is_null()):
        return False
    for name, value in changes.items():
        setattr(event, name, value)
    return True


def end(event_id: str, reason: str, event: ChurnEvent | None = None) -> bool:
    """End the event's active campaign: no further step is sent. False when none was active.
    `event`: the caller's row of it (as its transition returned it), updated in place."""
    assert reason in END_REASONS
    changes = {"campaign_status": ENDED, "campaign_ended_reason": reason, "campaign_next_send_at": None}
    if not _set(event_id, changes, ChurnEvent.campaign_status == ACTIVE):
        return False
    scheduled_jobs.cancel(KIND, event_id, f"the campaign ended: {reason}")
    if event is not None:
        for name, value in changes.items():
            setattr(event, name, value)
    return True


def end_for_address(project_id: str, email: str, reason: str) -> int:
    """End the active campaigns of every churn event of this address in the project (unsubscribe)."""
    ids = [row.id for row in ChurnEvent.select(ChurnEvent.id).where(
        (ChurnEvent.project == project_id) & (ChurnEvent.customer_email == email.lower())
        & (ChurnEvent.campaign_status == ACTIVE))]
    return sum(end(event_id, reason) for event_id in ids)


def _pending_steps(event_id: str) -> list[scheduled_jobs.ScheduledJob]:
    """The event's steps not run to an end yet (waiting, or being run right now)."""
    return [job for job in scheduled_jobs.jobs_for(KIND, [event_id]) if job.status in ("scheduled", "running")]


def step_done(event_id: str, step: int) -> None:
    """A step was sent or skipped: count it, and point `next_send_at` at the next waiting step
    (none left: the campaign is `completed`)."""
    following = [job.due_at for job in _pending_steps(event_id) if job.data.get("step", 0) > step]
    changes = {"campaign_step": step, "campaign_next_send_at": min(following, default=None)}
    if not following:
        changes["campaign_status"] = COMPLETED
    _set(event_id, changes, (ChurnEvent.campaign_status == ACTIVE) & (ChurnEvent.campaign_step < step))


def stop(project_id: str, event_id: str) -> ChurnEvent:
    """`POST .../campaign/stop`: 409 unless the event is in an active campaign."""
    from store.churn_events import get_event  # store.churn_events builds on this module

    with transaction():
        event = get_event(project_id, event_id)
        if event.campaign_status != ACTIVE or not end(event_id, "stopped"):
            raise conflict("This churn event is not in an active campaign", code=NOT_ACTIVE)
        return ChurnEvent.get_by_id(event_id)


# --- a step on its way --------------------------------------------------------------------------

def step_state(project_id: str, event_id: str, step: int) -> dict | None:
    """What a campaign step needs to choose and send its email; None when the event is not in an
    active treatment campaign any more. `earlier_pending`: an earlier step of this customer has
    not run yet (after downtime several can be due at once; they go out in order)."""
    from store.variants import Variant  # store.variants builds on store.churn_events, which uses this module

    event = ChurnEvent.get_or_none((ChurnEvent.id == event_id) & (ChurnEvent.project == project_id))
    if event is None or event.campaign_status != ACTIVE or event.campaign_group != "treatment":
        return None
    rows = list(Variant.select(Variant.id, Variant.strategy, Variant.tone, Variant.status)
                .where(Variant.churn_event == event_id).order_by(Variant.created_at.desc()))
    earlier = [job for job in _pending_steps(event_id) if job.data.get("step", 0) < step]
    return {
        "earlier_pending": bool(earlier),
        "customer_email": event.customer_email,
        "cancel_reason": event.cancel_reason,
        "sent_strategies": sorted({row.strategy for row in rows if row.status == "sent"}),
        # The newest unsent variant of each arm (a person's edit is kept and used).
        "unsent": {f"{row.strategy}/{row.tone}": row.id for row in reversed(rows) if row.status != "sent"},
    }


def claim_step(project_id: str, event_id: str, variant_id: str, job_id: str, new_strategy: bool,
               ttl_seconds: float) -> dict:
    """Claim the variant a step sends, with the step's job id as the claim: 409 `CAMPAIGN_NOT_ACTIVE`
    when the campaign ended meanwhile; 409 when `new_strategy` and this strategy was already sent
    (or is being sent) to the customer; else what `store.variants.claim_send` answers."""
    from store.variants import Variant, claim_send

    now = utcnow()
    with transaction():
        query = ChurnEvent.select().where((ChurnEvent.id == event_id) & (ChurnEvent.project == project_id))
        if not is_sqlite():
            query = query.for_update()  # two steps of one customer in two processes: one at a time
        event = query.first()
        if event is None or event.campaign_status != ACTIVE or event.campaign_group != "treatment":
            raise conflict("The customer's campaign has ended", code=NOT_ACTIVE)
        if new_strategy:
            strategy = Variant.select(Variant.strategy).where(Variant.id == variant_id).scalar()
            taken = Variant.select(Variant.id).where(
                (Variant.churn_event == event_id) & (Variant.strategy == strategy)
                & ((Variant.status == "sent") | (Variant.send_claim.is_null(False) & (Variant.send_claim_expires_at > now))))
            if taken.exists():
                raise conflict(f"A {strategy} email was already sent to this customer")
        return claim_send(project_id, event_id, variant_id, ttl_seconds, claim=job_id)
