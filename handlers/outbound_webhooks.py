"""Outbound webhook endpoints of a project (admins): create, list, read, change, delete, their
deliveries, retrying one, and a test event. docs/outbound-webhooks.md has the whole story."""
from __future__ import annotations

from handlers.access import PROJECT_ADMIN
from handlers.base import BaseHandler, list_query_schema
from handlers.responses import BOOLEAN, INTEGER, STRING, TIMESTAMP, Returns, enum, list_of, nullable, obj
from services.outbound import wake_scheduler
from services.outbound_http import check_url
from store import outbound_deliveries, webhook_endpoints
from store.db import run_db
from store.outbound import DELIVERY_STATUSES, EVENT_TYPES, KINDS, TEST_EVENT
from store.validation import Choice

ENDPOINT_OUT = obj({"id": STRING, "url": STRING, "kind": enum(KINDS), "events": list_of(enum(("*",) + EVENT_TYPES)),
                    "description": nullable(STRING), "min_mrr_cents": nullable(INTEGER), "enabled": BOOLEAN,
                    "disabled_reason": nullable(STRING), "secret": STRING, "created_at": TIMESTAMP,
                    "updated_at": TIMESTAMP})
DELIVERY_OUT = obj({"id": STRING, "endpoint_id": STRING, "event_type": enum(EVENT_TYPES + (TEST_EVENT,)),
                    "status": enum(DELIVERY_STATUSES), "attempts": INTEGER, "last_status_code": nullable(INTEGER),
                    "last_error": nullable(STRING), "last_response": nullable(STRING),
                    "next_attempt_at": nullable(TIMESTAMP), "created_at": TIMESTAMP,
                    "completed_at": nullable(TIMESTAMP)})
ENDPOINTS_LIST = list_query_schema(("created_at",))
DELIVERIES_LIST = list_query_schema(("created_at",), status=Choice(DELIVERY_STATUSES))


class WebhookEndpointsHandler(BaseHandler):
    """A project's outbound webhook endpoints; create one (its secret is shown this once)."""

    rules = {"GET": PROJECT_ADMIN, "POST": PROJECT_ADMIN}
    query_schemas = {"GET": ENDPOINTS_LIST}
    body_schemas = {"POST": webhook_endpoints.CREATE}
    response_schemas = {"GET": Returns(ENDPOINT_OUT, paged=True), "POST": Returns(ENDPOINT_OUT, status=201)}

    async def get(self, slug):
        query = self.parse_query()
        rows, total = await run_db(webhook_endpoints.list_endpoints, self.project.id, query["order"],
                                   self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))

    async def post(self, slug):
        body = self.parse_body()
        await check_url(body["url"], self.ctx.settings.allow_private_webhook_urls)
        # The answer carries the signing secret in clear: an Idempotency-Key never stores it.
        await self.reply(await run_db(webhook_endpoints.create_endpoint, self.project.id, body), status=201,
                         secret=True)


class WebhookEndpointHandler(BaseHandler):
    """One endpoint: read, change (url, events, kind, description, min_mrr_cents, enabled), delete."""

    rules = {"GET": PROJECT_ADMIN, "PATCH": PROJECT_ADMIN, "DELETE": PROJECT_ADMIN}
    body_schemas = {"PATCH": webhook_endpoints.UPDATE}
    response_schemas = {"GET": Returns(ENDPOINT_OUT), "PATCH": Returns(ENDPOINT_OUT),
                        "DELETE": Returns(None, status=204)}

    async def get(self, slug, endpoint_id):
        endpoint = await run_db(webhook_endpoints.get_endpoint, self.project.id, endpoint_id)
        await self.reply(webhook_endpoints.endpoint_json(endpoint))

    async def patch(self, slug, endpoint_id):
        body = self.parse_body()
        if "url" in body:
            await check_url(body["url"], self.ctx.settings.allow_private_webhook_urls)
        await self.reply(await run_db(webhook_endpoints.update_endpoint, self.project.id, endpoint_id, body))

    async def delete(self, slug, endpoint_id):
        await run_db(webhook_endpoints.delete_endpoint, self.project.id, endpoint_id)
        await self.reply(None, status=204)


class DeliveriesHandler(BaseHandler):
    """An endpoint's deliveries, newest first (filter `status`)."""

    rules = {"GET": PROJECT_ADMIN}
    query_schemas = {"GET": DELIVERIES_LIST}
    response_schemas = {"GET": Returns(DELIVERY_OUT, paged=True)}

    async def get(self, slug, endpoint_id):
        query = self.parse_query()
        rows, total = await run_db(webhook_endpoints.list_deliveries, self.project.id, endpoint_id,
                                   query.get("status"), query["order"], self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))


class DeliveryRetryHandler(BaseHandler):
    """Send a delivery again now, with the same `webhook-id`."""

    rules = {"POST": PROJECT_ADMIN}
    response_schemas = {"POST": Returns(DELIVERY_OUT, status=202)}

    async def post(self, slug, endpoint_id, delivery_id):
        delivery = await run_db(outbound_deliveries.retry_delivery, self.project.id, endpoint_id, delivery_id)
        wake_scheduler(self.ctx)
        await self.reply(delivery, status=202)


class EndpointTestHandler(BaseHandler):
    """Send a `webhook_endpoint.test` event to this endpoint only."""

    rules = {"POST": PROJECT_ADMIN}
    response_schemas = {"POST": Returns(DELIVERY_OUT, status=202)}

    async def post(self, slug, endpoint_id):
        delivery = await run_db(outbound_deliveries.queue_test_event, self.project.id, endpoint_id)
        wake_scheduler(self.ctx)
        await self.reply(delivery, status=202)


_ENDPOINT = r"/api/v1/projects/(?P<slug>[^/]+)/webhook-endpoints"
default_handlers = [
    (_ENDPOINT, WebhookEndpointsHandler),
    (_ENDPOINT + r"/(?P<endpoint_id>[^/]+)", WebhookEndpointHandler),
    (_ENDPOINT + r"/(?P<endpoint_id>[^/]+)/deliveries", DeliveriesHandler),
    (_ENDPOINT + r"/(?P<endpoint_id>[^/]+)/deliveries/(?P<delivery_id>[^/]+)/retry", DeliveryRetryHandler),
    (_ENDPOINT + r"/(?P<endpoint_id>[^/]+)/test", EndpointTestHandler),
]
