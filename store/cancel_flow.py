"""The cancel flow (docs/widget.md): the project's `settings.cancel_flow` (schema, defaults), the public
config the widget fetches, and the widget's answers.

Cancel-flow submissions: every answer a customer gave in the widget (reason, offer shown,
offer accepted). `save_rate` = accepted / submissions (docs/analytics.md)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass

import peewee

from store.errors import bad_request
from store.validation import (Choice, Field, FieldError, Integer, ListOf, Nested, Schema, String, clean_into,
                                 ValidationFailed)
from store import rollups
from store.db import transaction
from store.models import CANCEL_REASONS, BaseModel, ChurnEvent, Project, utcnow
from store.projects import live_key, project_settings
from store.offers import BILLING_FIELDS, DEFAULT_OFFERS, offer_headline
from store.outbound import record_event
from store.serialize import dumps, iso

log = logging.getLogger("windback.cancel_flow")


class CancelFlowSubmission(BaseModel):
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    churn_event = peewee.ForeignKeyField(ChurnEvent, on_delete="CASCADE")
    customer_email = peewee.CharField(max_length=254)
    reason = peewee.CharField(max_length=32)
    detail = peewee.TextField(null=True)
    offer_shown = peewee.TextField(null=True)  # JSON of the offer shown, if any
    offer_accepted = peewee.BooleanField(default=False)
    created_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "cancel_flow_submissions"
        indexes = ((("project", "created_at"), False),)


# --- settings.cancel_flow: declared once, validated on PATCH, defaults filled on read ----------

HEX_COLOR = r"#[0-9a-fA-F]{6}"
OFFER_TYPES = ("discount", "pause", "downgrade")

REASON_LABELS = {
    "too_expensive": "It's too expensive",
    "missing_features": "It's missing features I need",
    "switched_competitor": "I'm switching to another product",
    "not_using": "I'm not using it enough",
    "technical_issues": "I ran into technical problems",
    "poor_support": "I wasn't happy with the support",
    "temporary": "I only need a break for now",
    "payment_failed": "I had trouble with payment",
    "other": "Something else",
}
DEFAULT_COPY = {
    "title": "Before you go",
    "subtitle": "Tell us why you are cancelling. Your answer helps us improve.",
    "detail_label": "Anything else you would like to tell us? (optional)",
    "offer_title": "We have an offer for you",
    "accept_label": "Accept offer",
    "decline_label": "No thanks, cancel",
    "confirm_label": "Cancel my subscription",
    "keep_label": "Keep my subscription",
    "back_label": "Back",
    "close_label": "Close",
    "saved_message": "Thank you for staying! Your offer is on its way.",
    "cancelled_message": "Your answer is recorded. We are sorry to see you go.",
    "error_message": "Something went wrong. Please try again.",
}
DEFAULT_THEME = {"accent_color": "#4f46e5", "background_color": "#ffffff", "text_color": "#111827",
                 "border_radius": 12}


def _copy_text(max_length: int = 300) -> String:
    return String(min_length=1, max_length=max_length)


def _color() -> String:
    return String(pattern=HEX_COLOR, pattern_message="must be a colour like #4f46e5")


def _billing_fields(kind: str) -> dict:
    """The provider ids an offer of this type may carry (store/offers.py `BILLING_FIELDS`)."""
    return {name: String(max_length=100) for name in BILLING_FIELDS[kind]}


REASON = Schema({"code": Choice(CANCEL_REASONS, required=True),
                 "label": String(min_length=1, max_length=120, required=True)})
_OFFER_FIELDS = {
    "discount": Schema({"type": Choice(OFFER_TYPES, required=True),
                        "percent_off": Integer(minimum=1, maximum=100, required=True),
                        "months": Integer(minimum=1, maximum=24, required=True),
                        **_billing_fields("discount"),
                        "headline": _copy_text()}),
    "pause": Schema({"type": Choice(OFFER_TYPES, required=True),
                     "months": Integer(minimum=1, maximum=6, required=True),
                     **_billing_fields("pause"),
                     "headline": _copy_text()}),
    "downgrade": Schema({"type": Choice(OFFER_TYPES, required=True),
                         "to_plan": String(min_length=1, max_length=100, required=True),
                         "price_cents": Integer(minimum=0, maximum=10**9),
                         **_billing_fields("downgrade"),
                         "headline": _copy_text()}),
}


class Offer(Field):
    """One offer; its `type` decides which parameters it takes. `null`: no offer."""

    type_name = "object"

    def convert(self, value, path, from_query):
        if not isinstance(value, dict):
            raise FieldError("must be an offer object, or null for no offer")
        kind = value.get("type")
        if kind not in OFFER_TYPES:
            raise FieldError(f"must be one of: {', '.join(OFFER_TYPES)}", field=f"{path}.type")
        return _OFFER_FIELDS[kind].clean(value, prefix=path)

    def _schema(self):
        return {"oneOf": [schema.json_schema() for schema in _OFFER_FIELDS.values()]}


class OffersByReason(Field):
    """`{reason_code: offer | null}`; the keys must be cancel reasons."""

    type_name = "object"

    def convert(self, value, path, from_query):
        if not isinstance(value, dict):
            raise FieldError("must be an object of reason code -> offer")
        out, problems = {}, []
        offer = Offer(nullable=True)
        for code, item in value.items():
            if code not in CANCEL_REASONS:
                problems.append({"field": f"{path}.{code}", "message": f"must be a reason code: {', '.join(CANCEL_REASONS)}"})
                continue
            out[code] = clean_into(problems, offer, item, f"{path}.{code}")
        if problems:
            raise ValidationFailed(problems)
        return out

    def _schema(self):
        offer = Offer(nullable=True).json_schema()
        return {"type": "object", "properties": {code: offer for code in CANCEL_REASONS},
                "additionalProperties": False}


class ReasonList(ListOf):
    """The reasons the widget lists, in order; each code at most once."""

    def __init__(self, **kw):
        super().__init__(Nested(REASON), min_items=1, max_items=len(CANCEL_REASONS), **kw)

    def convert(self, value, path, from_query):
        reasons = super().convert(value, path, from_query)
        codes = [reason["code"] for reason in reasons]
        duplicates = sorted({code for code in codes if codes.count(code) > 1})
        if duplicates:
            raise FieldError(f"lists {', '.join(duplicates)} more than once")
        return reasons


CANCEL_FLOW_SETTINGS = Schema({
    "reasons": ReasonList(),
    "offers": OffersByReason(),
    "copy": Nested(Schema({name: _copy_text(600 if name.endswith(("message", "subtitle")) else 200)
                           for name in DEFAULT_COPY})),
    "theme": Nested(Schema({
        "accent_color": _color(),
        "background_color": _color(),
        "text_color": _color(),
        "border_radius": Integer(minimum=0, maximum=32),
    })),
})


class CancelFlowSettings(Nested):
    """The `cancel_flow` field of a project's settings, as `PATCH /projects/:slug` takes it."""

    def __init__(self, **kw):
        super().__init__(CANCEL_FLOW_SETTINGS, **kw)


def effective_settings(stored: dict | None) -> dict:
    """The stored `cancel_flow` with defaults for what it leaves out: every reason when no list is
    given; offers, copy and theme key by key over the defaults (an offer set to null: none)."""
    try:
        stored = CANCEL_FLOW_SETTINGS.clean(stored) if isinstance(stored, dict) else {}
    except ValidationFailed as failed:
        # Written before validation existed (or by hand): the widget must still open.
        log.warning("settings.cancel_flow is invalid (%s); using the defaults", failed.details[:3])
        stored = {}
    reasons = stored.get("reasons") or [{"code": code, "label": REASON_LABELS[code]} for code in CANCEL_REASONS]
    offers = {**DEFAULT_OFFERS, **(stored.get("offers") or {})}
    listed = {reason["code"] for reason in reasons}
    offers = {code: offer for code, offer in offers.items() if offer and code in listed}
    return {
        "reasons": reasons,
        "offers": {code: {**offer, "headline": offer.get("headline") or offer_headline(offer)}
                   for code, offer in offers.items()},
        "copy": {**DEFAULT_COPY, **(stored.get("copy") or {})},
        "theme": {**DEFAULT_THEME, **(stored.get("theme") or {})},
    }


# --- the public config, and recording an answer -------------------------------------------

@dataclass(frozen=True)
class PublicConfig:
    project_id: str
    body: bytes  # the whole `{"data": ...}` answer, serialised once
    etag: str
    key_expires_at: dt.datetime | None  # a rotated public key stops working then


def load_public_config(public_key: str) -> PublicConfig | None:
    """The widget's config for a live public key (None: not a live public key)."""
    row = live_key("public", public_key)
    if row is None:
        return None
    project = row.project
    settings = project_settings(project)
    flow = effective_settings(settings.get("cancel_flow"))
    data = {"project": {"name": project.name, "brand_name": settings.get("brand_name") or project.name}, **flow}
    body = dumps({"data": data}).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    return PublicConfig(project.id, body, etag, row.expires_at)


def offer_for(project_id: str, reason: str) -> dict | None:
    project = Project.get_by_id(project_id)
    return effective_settings(project_settings(project).get("cancel_flow"))["offers"].get(reason)


def record_answer(project_id: str, answer: dict) -> tuple[ChurnEvent, bool]:
    """The widget's answer, in one transaction: the churn event (created with source `widget`, or
    the customer's open one updated, its email and customer id left as they are), `saved` when an
    offer was accepted (a guarded UPDATE from an open status), and the submission row that
    `save_rate` counts, announced to outbound webhook endpoints as `cancel_flow.submitted`.
    Returns (event, created)."""
    from store.churn_event_reads import churn_json, cutoff_for
    from store.churn_events import mark_saved, record_churn

    offer = offer_for(project_id, answer["reason"])
    if answer.get("offer_accepted") and offer is None:
        raise bad_request(f"No offer is configured for the reason {answer['reason']}", "offer_accepted")
    shown = answer.get("offer_shown")
    offer_shown = offer if shown is True else (shown or None)
    fields = {"customer_email": answer["customer_email"], "customer_id": answer.get("customer_id"),
              "cancel_reason": answer["reason"], "cancel_reason_detail": answer.get("detail"),
              "source": "widget"}
    with transaction():
        event, created = record_churn(project_id, fields, keep_identity=True)
        if answer.get("offer_accepted"):
            event = mark_saved(event.id)
        submission = CancelFlowSubmission.create(
            project=project_id, churn_event=event.id, customer_email=event.customer_email, reason=answer["reason"],
            detail=answer.get("detail"), offer_shown=dumps(offer_shown) if offer_shown else None,
            offer_accepted=bool(answer.get("offer_accepted")))
        rollups.submission_added(project_id, event.id)
        record_event(project_id, "cancel_flow.submitted",
                     lambda: submission_json(submission, churn_json(event, cutoff_for(project_id))))
    return event, created


def submission_json(submission: CancelFlowSubmission, churn_event: dict) -> dict:
    """A cancel-flow answer as outbound webhooks show it, with the churn event it changed."""
    return {
        "id": str(submission.id),
        "churn_event_id": submission.churn_event_id,
        "customer_email": submission.customer_email,
        "reason": submission.reason,
        "detail": submission.detail,
        "offer_shown": json.loads(submission.offer_shown) if submission.offer_shown else None,
        "offer_accepted": bool(submission.offer_accepted),
        "saved": bool(churn_event.get("saved")),
        "created_at": iso(submission.created_at),
        "churn_event": churn_event,
    }
