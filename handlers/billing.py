"""Billing: the actions Windback took in a project's billing account, and a connection test
(docs/offers.md)."""
from __future__ import annotations

from handlers.access import PROJECT_ADMIN, PROJECT_MEMBER
from handlers.base import BaseHandler, list_query_schema
from handlers.responses import ANY_OBJECT, BOOLEAN, STRING, TIMESTAMP, Returns, enum, nullable, obj
from services.billing.offers import test_connection
from store import billing
from store.db import run_db
from store.validation import Choice, String

BILLING_ACTION_OUT = obj({
    "id": STRING, "churn_event_id": nullable(STRING), "variant_id": nullable(STRING), "customer_id": STRING,
    "provider": enum(("stripe", "razorpay")), "kind": enum(billing.ACTION_KINDS), "channel": enum(billing.CHANNELS),
    "status": enum(billing.ACTION_STATUSES), "provider_object_id": nullable(STRING), "params": ANY_OBJECT,
    "error": nullable(STRING), "created_at": TIMESTAMP, "completed_at": nullable(TIMESTAMP),
})
CONNECTION_TEST_OUT = obj({"ok": BOOLEAN, "provider": STRING, "message": STRING})
LIST = list_query_schema(("created_at",), churn_event_id=String(max_length=40), customer_id=String(max_length=200),
                         status=Choice(billing.ACTION_STATUSES))


class BillingActionsHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    query_schemas = {"GET": LIST}
    response_schemas = {"GET": Returns(BILLING_ACTION_OUT, paged=True)}

    async def get(self, slug):
        """Billing actions taken for the project's customers, newest first."""
        query = self.parse_query()
        rows, total = await run_db(billing.list_actions, self.project.id, query, query["order"], self.offset(query),
                                   query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))


class BillingTestHandler(BaseHandler):
    rules = {"POST": PROJECT_ADMIN}
    response_schemas = {"POST": Returns(CONNECTION_TEST_OUT)}

    async def post(self, slug):
        """Make one harmless read in the connected billing account (Stripe: the balance;
        Razorpay: one subscription) and say whether it worked."""
        await self.reply(await test_connection(self.ctx, self.project.id))


default_handlers = [
    (r"/api/v1/projects/(?P<slug>[^/]+)/billing-actions", BillingActionsHandler),
    (r"/api/v1/projects/(?P<slug>[^/]+)/billing/test", BillingTestHandler),
]
