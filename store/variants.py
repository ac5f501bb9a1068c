"""Recovery email variants: nine per churn event (3 strategies x 3 tones), and the guarded
transitions the project actor applies to them (docs/emails.md).

Slow work (writing, sending) happens outside the actor between two transactions, so both are
claims in the database: a claim row per event being generated (`variant_generations`) and a
`send_claim` on a variant being sent. Each claim expires, so a process that dies mid-way never
leaves an event or a variant stuck; each commit checks that it still holds its claim.
"""
from __future__ import annotations

import datetime as dt
import secrets

import peewee

from store import campaigns, customers, rollups
from store.errors import conflict, not_found
from store.churn_event_reads import churn_json, cutoff_for
from store.churn_events import CLOSED_STATUSES, get_event, mark_contacted, mark_variants_ready
from store.customer_views import top_events
from store.db import transaction
from store.models import STRATEGIES, TONES, BaseModel, ChurnEvent, Project, new_id, utcnow
from store.projects import project_settings
from store.outbound import record_event
from store.serialize import iso
from store.suppressions import is_suppressed

SENDABLE = ("draft", "edited", "failed")


class Variant(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("var"))
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    churn_event = peewee.ForeignKeyField(ChurnEvent, backref="variants", on_delete="CASCADE", index=False)
    strategy = peewee.CharField(max_length=32)
    tone = peewee.CharField(max_length=16)
    subject = peewee.CharField(max_length=500)
    body_text = peewee.TextField()
    body_html = peewee.TextField()
    status = peewee.CharField(max_length=16, default="draft")
    generator = peewee.CharField(max_length=120)
    sent_at = peewee.DateTimeField(null=True)
    message_id = peewee.CharField(max_length=300, null=True)
    error = peewee.TextField(null=True)
    created_at = peewee.DateTimeField(default=utcnow)
    updated_at = peewee.DateTimeField(default=utcnow)
    # A send in progress (m0007): who holds it and until when.
    send_claim = peewee.CharField(max_length=40, null=True)
    send_claim_expires_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "variants"
        # (churn_event_id, status, strategy, tone) of m0008 serves the lookups by event and status.
        indexes = (
            (("project", "status", "sent_at"), False),
        )


class VariantGeneration(BaseModel):
    """One row while an event's variants are being written; the primary key makes it one writer
    per event across processes."""

    churn_event = peewee.ForeignKeyField(ChurnEvent, primary_key=True, on_delete="CASCADE")
    claim = peewee.CharField(max_length=40)
    expires_at = peewee.DateTimeField()

    class Meta:
        table_name = "variant_generations"


def variant_json(variant: Variant) -> dict:
    return {
        "id": variant.id,
        "churn_event_id": variant.churn_event_id,
        "strategy": variant.strategy,
        "tone": variant.tone,
        "subject": variant.subject,
        "body_text": variant.body_text,
        "body_html": variant.body_html,
        "status": variant.status,
        "generator": variant.generator,
        "sent_at": iso(variant.sent_at),
        "message_id": variant.message_id,
        "error": variant.error,
        "created_at": iso(variant.created_at),
        "updated_at": iso(variant.updated_at),
    }


def _grid_position():
    """Strategy-major, tone-minor order of the 3 x 3 grid, for listing."""
    strategy = peewee.Case(Variant.strategy, [(s, i) for i, s in enumerate(STRATEGIES)], 9)
    tone = peewee.Case(Variant.tone, [(t, i) for i, t in enumerate(TONES)], 9)
    return strategy * 3 + tone


def list_variants(project_id: str, event_id: str, status: str | None, order: str, offset: int,
                  limit: int) -> tuple[list[dict], int]:
    get_event(project_id, event_id)
    query = Variant.select().where((Variant.churn_event == event_id) & (Variant.project == project_id))
    if status:
        query = query.where(Variant.status == status)
    total = query.count()
    created = Variant.created_at.asc() if order == "asc" else Variant.created_at.desc()
    rows = query.order_by(created, _grid_position(), Variant.id).offset(offset).limit(limit)
    return [variant_json(v) for v in rows], total


def get_variant(project_id: str, event_id: str, variant_id: str) -> Variant:
    variant = Variant.get_or_none((Variant.id == variant_id) & (Variant.churn_event == event_id)
                                  & (Variant.project == project_id))
    if variant is None:
        raise not_found("Variant")
    return variant


def _sending(now: dt.datetime):
    return Variant.send_claim.is_null(False) & (Variant.send_claim_expires_at > now)


def _refuse_closed(event: ChurnEvent, doing: str) -> None:
    if event.status in CLOSED_STATUSES:
        raise conflict(f"Cannot {doing}: the churn event is {event.status}")


# --- generation -------------------------------------------------------------------------------

def claim_generation(project_id: str, event_id: str, ttl_seconds: float) -> tuple[str, dict]:
    """Claim the event for writing; returns (claim, what the writer needs). 409 when the event
    is recovered or saved, already being generated, or one of its variants is being sent."""
    now = utcnow()
    claim = secrets.token_hex(16)
    expires = now + dt.timedelta(seconds=ttl_seconds)
    with transaction():
        event = get_event(project_id, event_id)
        _refuse_closed(event, "generate variants")
        if Variant.select(Variant.id).where((Variant.churn_event == event_id) & _sending(now)).exists():
            raise conflict("A variant of this churn event is being sent; try again in a moment")
        # One claim row per event: insert it, or take over a claim that expired (its process
        # died); a live claim of someone else stays, and then this one is refused.
        (VariantGeneration.insert(churn_event=event_id, claim=claim, expires_at=expires)
         .on_conflict(conflict_target=[VariantGeneration.churn_event],
                      update={VariantGeneration.claim: claim, VariantGeneration.expires_at: expires},
                      where=(VariantGeneration.expires_at <= now))
         .execute())
        held = (VariantGeneration.select(VariantGeneration.claim)
                .where(VariantGeneration.churn_event == event_id).scalar())
        if held != claim:
            raise conflict("Variants for this churn event are being generated right now")
        project = Project.get_by_id(project_id)
        inputs = {
            "customer_name": event.customer_name,
            "plan": event.plan,
            "reason": event.cancel_reason,
            "currency": event.currency,
            "project_name": project.name,
            "settings": project_settings(project),
            "usage": top_events(project_id, event.customer_id, event.customer_email),
        }
    return claim, inputs


def release_generation(event_id: str, claim: str) -> None:
    with transaction():
        (VariantGeneration.delete()
         .where((VariantGeneration.churn_event == event_id) & (VariantGeneration.claim == claim)).execute())


def commit_generation(project_id: str, event_id: str, claim: str, drafts: list, generator: str) -> list[dict]:
    """Store the nine drafts in place of the unsent variants, if this claim still holds."""
    now = utcnow()
    with transaction():
        held = (VariantGeneration.delete()
                .where((VariantGeneration.churn_event == event_id) & (VariantGeneration.claim == claim)).execute())
        if held != 1:
            raise conflict("The generation took too long and its claim expired; generate again")
        event = get_event(project_id, event_id)
        _refuse_closed(event, "store variants")
        (Variant.delete()
         .where((Variant.churn_event == event_id) & (Variant.status != "sent")
                & ~(Variant.send_claim.is_null(False) & (Variant.send_claim_expires_at > now)))
         .execute())
        rows = [Variant(id=new_id("var"), project=project_id, churn_event=event_id, strategy=d.strategy,
                        tone=d.tone, subject=d.subject, body_text=d.body_text, body_html=d.body_html,
                        status="draft", generator=generator, created_at=now, updated_at=now)
                for d in drafts]
        Variant.bulk_create(rows)
        mark_variants_ready(event_id, now)
    return [variant_json(v) for v in rows]


# --- editing ------------------------------------------------------------------------------------

def edit_variant(project_id: str, event_id: str, variant_id: str, changes: dict) -> dict:
    now = utcnow()
    with transaction():
        variant = get_variant(project_id, event_id, variant_id)
        changed = (Variant.update(**changes, status="edited", error=None, updated_at=now)
                   .where((Variant.id == variant_id) & Variant.status.in_(SENDABLE)
                          & ~(Variant.send_claim.is_null(False) & (Variant.send_claim_expires_at > now)))
                   .execute())
        if changed != 1:
            if variant.status == "sent":
                raise conflict("This variant was already sent and can no longer be edited")
            raise conflict("This variant is being sent right now")
        return variant_json(Variant.get_by_id(variant_id))


def add_accept_link(event_id: str, variant_id: str, body_text: str, body_html: str) -> bool:
    """A freshly written draft gets its one-click offer link in its wording (store/offer_links.py);
    only while it is still an unedited, unsent `draft`. Whether it changed."""
    return bool(Variant.update(body_text=body_text, body_html=body_html, updated_at=utcnow())
                .where((Variant.id == variant_id) & (Variant.churn_event == event_id) & (Variant.status == "draft"))
                .execute())


# --- sending ------------------------------------------------------------------------------------

def claim_send(project_id: str, event_id: str, variant_id: str, ttl_seconds: float, claim: str | None = None) -> dict:
    """Claim a variant for sending; returns what the message needs. 409 unless the event is open
    to contact, has an address that is not suppressed, and the variant is unsent and free.
    `claim`: a token given by the caller (a campaign step's job id), else a random one."""
    now = utcnow()
    claim = claim or secrets.token_hex(16)
    with transaction():
        event = get_event(project_id, event_id)
        variant = get_variant(project_id, event_id, variant_id)
        _refuse_closed(event, "send")
        if variant.status == "sent":
            raise conflict("This variant was already sent")
        if not event.customer_email:
            raise conflict("The churn event has no customer_email to send to")
        if is_suppressed(project_id, event.customer_email):
            raise conflict(f"{event.customer_email} unsubscribed from this project's emails", code="SUPPRESSED")
        taken = (Variant.update(send_claim=claim, send_claim_expires_at=now + dt.timedelta(seconds=ttl_seconds))
                 .where((Variant.id == variant_id) & Variant.status.in_(SENDABLE)
                        & (Variant.send_claim.is_null() | (Variant.send_claim_expires_at <= now)))
                 .execute())
        if taken != 1:
            raise conflict("This variant is being sent right now")
        project = Project.get_by_id(project_id)
        return {
            "claim": claim,
            "to": event.customer_email,
            "customer_name": event.customer_name,
            "customer_id": event.customer_id,
            "subject": variant.subject,
            "body_text": variant.body_text,
            "body_html": variant.body_html,
            "mail_from": project_settings(project).get("mail_from"),
        }


def mark_sent(project_id: str, event_id: str, variant_id: str, claim: str, message_id: str,
              campaign_step: int | None = None) -> dict:
    """The mail server accepted it: record that, even if the claim had run out meanwhile (what was
    accepted is sent), and move the event to `contacted` from `new`/`variants_ready`. A campaign
    step counts as done; any other send is a person's, which ends the customer's campaign."""
    now = utcnow()
    with transaction():
        if campaign_step is None:
            campaigns.end(event_id, "manual_send")
        else:
            campaigns.step_done(event_id, campaign_step)
        sent = (Variant.update(status="sent", sent_at=now, message_id=message_id, error=None, send_claim=None,
                               send_claim_expires_at=None, updated_at=now)
                .where((Variant.id == variant_id) & (Variant.project == project_id) & (Variant.status != "sent"))
                .execute())
        mark_contacted(event_id, now)
        variant = variant_json(Variant.get_by_id(variant_id))
        if sent:  # the first time this email is recorded as sent: one more on the customer's timeline
            rollups.email_sent(project_id, variant["churn_event_id"], variant["strategy"], variant["tone"])
            event = ChurnEvent.get_by_id(event_id)
            customers.touch(project_id, customer_id=event.customer_id, customer_email=event.customer_email,
                            kind="email", at=now)
            record_event(project_id, "variant.sent", lambda: {
                **variant, "churn_event": churn_json(event, cutoff_for(project_id))})
        return variant


def mark_failed(project_id: str, event_id: str, variant_id: str, claim: str, error: str) -> dict:
    now = utcnow()
    with transaction():
        (Variant.update(status="failed", error=error[:1000], send_claim=None, send_claim_expires_at=None,
                        updated_at=now)
         .where((Variant.id == variant_id) & (Variant.project == project_id) & (Variant.send_claim == claim)
                & (Variant.status != "sent"))
         .execute())
        return variant_json(Variant.get_by_id(variant_id))


def last_sent_variant_id(event_id: str) -> str | None:
    row = (Variant.select(Variant.id)
           .where((Variant.churn_event == event_id) & (Variant.status == "sent"))
           .order_by(Variant.sent_at.desc(), Variant.id.desc()).first())
    return row.id if row else None
