"""One-click offer links in discount emails: `{WINDBACK_PUBLIC_URL}/offers/<token>`.

The token (256 random bits) is stored only as its SHA-256, is good for one use and 30 days.
Opening the link changes nothing (mail scanners open links); only the page's Accept button does,
and it claims the link with a guarded UPDATE, so two clicks apply one offer.
"""
from __future__ import annotations

import datetime as dt

import peewee

from store.db import transaction
from store.models import BaseModel, Project, utcnow
from store.serialize import dumps, loads_object

LINK_DAYS = 30


class OfferLink(BaseModel):
    token_hash = peewee.CharField(primary_key=True, max_length=64)
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE")
    churn_event_id = peewee.CharField(max_length=40)
    variant_id = peewee.CharField(max_length=40)
    offer = peewee.TextField()  # the discount offer, as configured when the email was written
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    used_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "offer_links"
        indexes = ((("churn_event_id",), False),)


def attach_links(project_id: str, event_id: str, offer: dict, links: list[dict]) -> list[str]:
    """Store each link (`token_hash`, `variant_id`) and put its wording in the unsent variant
    (`body_text`, `body_html`); returns the ids of the variants changed."""
    from store.variants import add_accept_link  # store.variants builds on the core modules

    now = utcnow()
    changed = []
    with transaction():
        for link in links:
            if add_accept_link(event_id, link["variant_id"], link["body_text"], link["body_html"]):
                OfferLink.create(token_hash=link["token_hash"], project=project_id, churn_event_id=event_id,
                                 variant_id=link["variant_id"], offer=dumps(offer), created_at=now,
                                 expires_at=now + dt.timedelta(days=LINK_DAYS))
                changed.append(link["variant_id"])
    return changed


def link_state(token_hash: str) -> dict | None:
    """The link as plain values with its `state` (open, used, expired); None: unknown."""
    link = OfferLink.get_or_none(OfferLink.token_hash == token_hash)
    if link is None:
        return None
    state = "used" if link.used_at else ("expired" if link.expires_at <= utcnow() else "open")
    return {"token_hash": link.token_hash, "project_id": link.project_id, "churn_event_id": link.churn_event_id,
            "variant_id": link.variant_id, "offer": loads_object(link.offer), "state": state,
            "used_at": link.used_at}


def claim_link(token_hash: str) -> bool:
    """open -> used; False when another click (or the clock) got there first."""
    now = utcnow()
    return bool(OfferLink.update(used_at=now)
                .where((OfferLink.token_hash == token_hash) & OfferLink.used_at.is_null()
                       & (OfferLink.expires_at > now)).execute())


def release_link(token_hash: str) -> None:
    """The offer could not be applied: the customer may try the link again."""
    OfferLink.update(used_at=None).where(OfferLink.token_hash == token_hash).execute()
