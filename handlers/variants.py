"""Recovery email variants of a churn event (docs/emails.md): generate nine, list, edit one, send one.

Generating and sending are claim -> slow work -> commit (services/recovery.py), so a slow model
or mail server never holds the project's actor.
"""
from __future__ import annotations

from handlers.access import PROJECT_MEMBER
from handlers.base import PAGE_FIELDS, BaseHandler
from handlers.responses import STRING, TIMESTAMP, Returns, enum, nullable, obj
from store.validation import Choice, Schema, String
from services import recovery
from services.writers import text_to_html
from store import variants
from store.db import run_db
from store.models import STRATEGIES, TONES, VARIANT_STATUSES


def _at_least_one(values: dict) -> list[dict]:
    if not values:
        return [{"field": "body", "message": "give at least one of subject, body_text, body_html"}]
    return []


VARIANT_EDIT = Schema({
    "subject": String(min_length=1, max_length=200, pattern=r"[^\r\n]+",
                      pattern_message="must be one line (no line breaks)"),
    "body_text": String(min_length=1, max_length=50_000, multiline=True),
    "body_html": String(min_length=1, max_length=200_000, multiline=True),
}, check=_at_least_one)
LIST = Schema({**PAGE_FIELDS, "status": Choice(VARIANT_STATUSES)}, allow_unknown=True)
VARIANT_OUT = obj({
    "id": STRING, "churn_event_id": STRING, "strategy": enum(STRATEGIES), "tone": enum(TONES),
    "subject": STRING, "body_text": STRING, "body_html": STRING, "status": enum(VARIANT_STATUSES),
    "generator": STRING, "sent_at": nullable(TIMESTAMP), "message_id": nullable(STRING), "error": nullable(STRING),
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
})


class GenerateHandler(BaseHandler):
    """Write the nine variants (strategy x tone) of a churn event."""

    rules = {"POST": PROJECT_MEMBER}
    response_schemas = {"POST": Returns({"type": "array", "items": VARIANT_OUT, "maxItems": 9}, status=201)}

    async def post(self, slug, event_id):
        created, warnings = await recovery.generate_variants(self.ctx, self.project.id, event_id)
        await self.reply(created, status=201, meta={"warnings": warnings} if warnings else None)


class VariantsHandler(BaseHandler):
    """The variants of a churn event (sent ones are kept across generations)."""

    rules = {"GET": PROJECT_MEMBER}
    query_schemas = {"GET": LIST}
    response_schemas = {"GET": Returns(VARIANT_OUT, paged=True)}

    async def get(self, slug, event_id):
        query = self.parse_query(LIST)
        rows, total = await run_db(variants.list_variants, self.project.id, event_id, query.get("status"),
                                   query["order"], self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))


class VariantHandler(BaseHandler):
    """Edit an unsent variant."""

    rules = {"PATCH": PROJECT_MEMBER}
    body_schemas = {"PATCH": VARIANT_EDIT}
    response_schemas = {"PATCH": Returns(VARIANT_OUT)}

    async def patch(self, slug, event_id, variant_id):
        changes = self.parse_body(VARIANT_EDIT)
        if "body_text" in changes and "body_html" not in changes:
            # A text-only edit would leave the HTML part saying something else.
            changes["body_html"] = text_to_html(changes["body_text"])
        variant = await self.ctx.actors.project(self.project.id).edit_variant(event_id, variant_id, changes)
        await self.reply(variant)


class SendHandler(BaseHandler):
    """Send a variant to the customer (once)."""

    rules = {"POST": PROJECT_MEMBER}
    response_schemas = {"POST": Returns(VARIANT_OUT)}

    async def post(self, slug, event_id, variant_id):
        variant = await recovery.send_variant(self.ctx, self.project.id, event_id, variant_id)
        await self.reply(variant)


_EVENT = r"/api/v1/projects/(?P<slug>[^/]+)/churn-events/(?P<event_id>[^/]+)"
default_handlers = [
    (_EVENT + "/generate", GenerateHandler),
    (_EVENT + "/variants", VariantsHandler),
    (_EVENT + "/variants/(?P<variant_id>[^/]+)", VariantHandler),
    (_EVENT + "/variants/(?P<variant_id>[^/]+)/send", SendHandler),
]
