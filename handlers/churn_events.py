"""`/projects/:slug/churn-events`: create, list, get, mark recovered, change the cancel reason.

State changes go to the project's actor; reads query the store from the worker pool.
"""
from __future__ import annotations

from handlers.access import PROJECT_MEMBER
from handlers.base import BaseHandler, list_query_schema
from handlers.responses import CHURN_EVENT_OUT, Returns
from store.validation import Choice, Email, Integer, JsonObject, Schema, String, Timestamp
from store import churn_event_reads, churn_events
from store.db import run_db
from store.models import CANCEL_REASONS, CHURN_STATUSES, SOURCES


class Currency(String):
    def __init__(self, **kw):
        super().__init__(min_length=3, max_length=3, pattern=r"[A-Za-z]{3}",
                         pattern_message="must be a 3-letter ISO 4217 code, e.g. USD", **kw)

    def convert(self, value, path, from_query):
        return super().convert(value, path, from_query).upper()


CHURN_EVENT = Schema({
    "customer_email": Email(required=True),
    "customer_name": String(max_length=200, nullable=True),
    "customer_id": String(max_length=200, nullable=True),
    "plan": String(max_length=200, nullable=True),
    "mrr_cents": Integer(minimum=0, maximum=10**12, default=0),
    "currency": Currency(default="USD"),
    "cancel_reason": Choice(CANCEL_REASONS, nullable=True),
    "cancel_reason_detail": String(max_length=5000, nullable=True, multiline=True),
    "churned_at": Timestamp(past_only=True),
    "metadata": JsonObject(max_bytes=16384, default=dict),
})
RECOVERED = Schema({"recovered_mrr_cents": Integer(minimum=0, maximum=10**12, nullable=True)})
CANCEL_REASON = Schema({
    "cancel_reason": Choice(CANCEL_REASONS, required=True),
    "cancel_reason_detail": String(max_length=5000, nullable=True, multiline=True),
})
LIST = list_query_schema(
    churn_event_reads.SORT_FIELDS,
    status=Choice(CHURN_STATUSES),
    source=Choice(SOURCES),
    cancel_reason=Choice(CANCEL_REASONS),
    customer_email=String(max_length=254),
    customer_id=String(max_length=200),
    created_after=Timestamp(),
    created_before=Timestamp(),
)
FILTERS = ("status", "source", "cancel_reason", "customer_email", "customer_id", "created_after", "created_before")


class ChurnEventsHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER, "POST": PROJECT_MEMBER}
    query_schemas = {"GET": LIST}
    body_schemas = {"POST": CHURN_EVENT}
    response_schemas = {"GET": Returns(CHURN_EVENT_OUT, paged=True),
                        "POST": Returns(CHURN_EVENT_OUT, status=201, also=(200,),
                                        description="201: created; 200: the customer's open event, updated")}

    async def get(self, slug):
        """List churn events, filtered and sorted."""
        query = self.parse_query()
        filters = {name: query[name] for name in FILTERS if name in query}
        rows, total = await run_db(churn_event_reads.list_events, self.project.id, filters, query["sort"],
                                   query["order"], self.offset(query), query["per_page"],
                                   churn_event_reads.cutoff_for(self.project))
        await self.reply(rows, meta=self.page_meta(query, total))

    async def post(self, slug):
        """Record a churn (or update the customer's open event)."""
        fields = self.parse_body()
        fields["source"] = "api"
        event, created = await self.ctx.actors.project(self.project.id).create_churn_event(fields)
        await self.reply(event, status=201 if created else 200)


class ChurnEventHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    response_schemas = {"GET": Returns(CHURN_EVENT_OUT)}

    async def get(self, slug, event_id):
        """One churn event."""
        cutoff = churn_event_reads.cutoff_for(self.project)
        event = await run_db(lambda: churn_event_reads.churn_json(churn_events.get_event(self.project.id, event_id), cutoff))
        await self.reply(event)


class RecoveredHandler(BaseHandler):
    rules = {"POST": PROJECT_MEMBER}
    body_schemas = {"POST": RECOVERED}
    body_optional = ("POST",)
    response_schemas = {"POST": Returns(CHURN_EVENT_OUT)}

    async def post(self, slug, event_id):
        """Mark a churn event recovered (409 when already recovered or saved)."""
        body = self.parse_body()
        event = await self.ctx.actors.project(self.project.id).mark_recovered(
            event_id, body.get("recovered_mrr_cents"))
        await self.reply(event)


class CancelReasonHandler(BaseHandler):
    rules = {"PATCH": PROJECT_MEMBER}
    body_schemas = {"PATCH": CANCEL_REASON}
    response_schemas = {"PATCH": Returns(CHURN_EVENT_OUT)}

    async def patch(self, slug, event_id):
        """Change the cancel reason of a churn event."""
        body = self.parse_body()
        event = await self.ctx.actors.project(self.project.id).update_cancel_reason(
            event_id, body["cancel_reason"], body.get("cancel_reason_detail"), "cancel_reason_detail" in body)
        await self.reply(event)


_EVENT = r"/api/v1/projects/(?P<slug>[^/]+)/churn-events/(?P<event_id>[^/]+)"
default_handlers = [
    (r"/api/v1/projects/(?P<slug>[^/]+)/churn-events", ChurnEventsHandler),
    (_EVENT, ChurnEventHandler),
    (_EVENT + "/recovered", RecoveredHandler),
    (_EVENT + "/cancel-reason", CancelReasonHandler),
]
