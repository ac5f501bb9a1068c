"""`POST /api/v1/track` (docs/api-tracking.md): a customer's backend reports what its users do.

One event, or `{"events": [...]}` of up to 500. Every item is validated before anything is
stored; a bad item names itself (`events[3].event`) and nothing is stored. The answer, 202, comes
only after the rows committed (group commit, `store/tracking.py`). The rate limit is the plan's
and counts requests: a batch costs one token, whatever its size (docs/api-tracking.md).
"""
from __future__ import annotations

import json

from handlers.access import KEY_ONLY
from handlers.base import BaseHandler
from handlers.errors import ApiError
from handlers.responses import INTEGER, OneOf, Returns, obj
from store.input_rules import json_text_problems
from store.validation import (Email, Field, FieldError, ListOf, Nested, Schema, String, Timestamp,
                                 ValidationFailed, validation_error)
from store import tracking

MAX_BATCH = 500
MAX_PROPERTIES_BYTES = 16384
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # one, not one per call


class Properties(Field):
    """A JSON object of at most 16 KiB, kept as its JSON text (written once, stored as is)."""

    type_name = "object"

    def convert(self, value, path, from_query):
        if not isinstance(value, dict):
            raise FieldError("must be a JSON object")
        text = _ENCODER.encode(value)
        unsafe = json_text_problems(value, text, path)
        if unsafe:
            raise ValidationFailed(unsafe)
        # A character is 1-4 bytes in UTF-8: encode only when the length alone cannot tell.
        if len(text) > MAX_PROPERTIES_BYTES // 4 and len(text.encode("utf-8")) > MAX_PROPERTIES_BYTES:
            raise FieldError(f"must be at most {MAX_PROPERTIES_BYTES} bytes as JSON")
        return text

    def _schema(self):
        return {"type": "object", "description": f"at most {MAX_PROPERTIES_BYTES} bytes as JSON"}


EVENT_FIELDS = Schema({
    "event": String(min_length=1, max_length=200, required=True, description="what happened, e.g. login"),
    "customer_id": String(min_length=1, max_length=200, nullable=True),
    "customer_email": Email(nullable=True),
    "properties": Properties(),
    "timestamp": Timestamp(description="when it happened (ISO 8601); default: when received"),
})


class TrackedEventItem(Nested):
    """One event; it must name its customer by `customer_id` or `customer_email`."""

    def __init__(self, **kw):
        super().__init__(EVENT_FIELDS, **kw)

    def convert(self, value, path, from_query):
        item = super().convert(value, path, from_query)
        if not item.get("customer_id") and not item.get("customer_email"):
            raise FieldError("customer_id or customer_email is required",
                             field=f"{path}.customer_id" if path else "customer_id")
        item["properties_json"] = item.pop("properties", "{}")
        return item


EVENT = TrackedEventItem()
BATCH = Schema({"events": ListOf(TrackedEventItem(), min_items=1, max_items=MAX_BATCH, required=True)})


def parse_events(body) -> list[dict]:
    """The body's events, all valid, or a 400 naming every bad field of every bad item."""
    if not isinstance(body, dict):
        raise ApiError(400, "VALIDATION_ERROR", "The body must be a JSON object",
                       [{"field": "body", "message": "must be a JSON object"}])
    try:
        if "events" in body:
            return BATCH.clean(body)["events"]
        return [EVENT.clean(body, "")]
    except ValidationFailed as failed:
        raise validation_error(failed.details) from None
    except FieldError as error:
        raise validation_error([{"field": error.field or "body", "message": error.message}]) from None


def tracking_writer(ctx):
    return ctx.service("tracking_writer", tracking.make_writer)


class TrackHandler(BaseHandler):
    """Report what customers do: one event, or a batch of up to 500."""

    rules = {"POST": KEY_ONLY}
    body_schemas = {"POST": OneOf(EVENT_FIELDS, BATCH)}  # documentation; parse_events validates
    response_schemas = {"POST": Returns(obj({"accepted": INTEGER}), status=202)}
    rate_limit_group = "tracking"

    def rate_limit_plan(self) -> str | None:
        return self.key_owner.plan if self.key_owner else None

    async def post(self) -> None:
        events = parse_events(self.json_body())
        rows = tracking.rows_for(self.key_owner.project_id, events)
        accepted = await tracking_writer(self.ctx).submit(rows)
        await self.reply({"accepted": accepted}, status=202)


default_handlers = [(r"/api/v1/track", TrackHandler)]
