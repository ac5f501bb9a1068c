"""`/projects/:slug/customers`: the project's customers with their churn risk (docs/customers.md).

Before answering, the customers whose activity changed since they were last scored are scored
again (bounded; housekeeping does the rest), so a read right after `/track` sees its effect.
Keys are opaque in the path: clients URL-encode them.
"""
from __future__ import annotations

from handlers.access import PROJECT_MEMBER
from handlers.base import BaseHandler, list_query_schema
from handlers.responses import INTEGER, STRING, TIMESTAMP, Returns, enum, list_of, nullable, obj
from services import customers as customer_risk
from store import customer_views
from store.customers import LEVELS, STATUSES
from store.db import run_db
from store.validation import Choice, String

LIST = list_query_schema(customer_views.SORT_FIELDS, default_sort="risk_score",
                         level=Choice(LEVELS), status=Choice(STATUSES),
                         q=String(min_length=1, max_length=254, description="email or customer id prefix"))
FILTERS = ("level", "status", "q")

REASON_OUT = obj({"code": STRING, "text": STRING, "weight": {"type": "number"}})
CUSTOMER_OUT = obj({
    "key": STRING, "customer_id": nullable(STRING), "customer_email": nullable(STRING), "name": nullable(STRING),
    "status": enum(STATUSES), "mrr_cents": INTEGER, "currency": STRING,
    "first_seen_at": TIMESTAMP, "last_seen_at": TIMESTAMP, "events_last_14d": INTEGER, "events_prior_28d": INTEGER,
    "risk": obj({"score": INTEGER, "level": enum(LEVELS), "reasons": list_of(REASON_OUT)}),
})
TIMELINE_DAY_OUT = obj({"day": STRING, "events": {"type": "object", "additionalProperties": INTEGER},
                        "churn_events": INTEGER, "emails_sent": INTEGER, "payment_recoveries": INTEGER,
                        "billing_actions": INTEGER})
CUSTOMER_DETAIL_OUT = obj({**CUSTOMER_OUT["properties"], "timeline": list_of(TIMELINE_DAY_OUT)})


class CustomersHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    query_schemas = {"GET": LIST}
    response_schemas = {"GET": Returns(CUSTOMER_OUT, paged=True)}

    async def get(self, slug):
        """List customers, highest churn risk first by default."""
        query = self.parse_query()
        await customer_risk.refresh_project(self.ctx, self.project)
        filters = {name: query[name] for name in FILTERS if name in query}
        rows, total = await run_db(customer_views.list_customers, self.project.id, filters, query["sort"],
                                   query["order"], self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))


class CustomerHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    response_schemas = {"GET": Returns(CUSTOMER_DETAIL_OUT)}

    async def get(self, slug, key):
        """One customer, with a daily timeline of their activity (newest day first)."""
        await customer_risk.refresh_project(self.ctx, self.project)
        project_id = self.project.id

        def read():
            customer = customer_views.customer_json(customer_views.get_customer(project_id, key))
            customer["timeline"] = customer_views.timeline(project_id, customer["key"])
            return customer

        await self.reply(await run_db(read))


default_handlers = [
    (r"/api/v1/projects/(?P<slug>[^/]+)/customers", CustomersHandler),
    (r"/api/v1/projects/(?P<slug>[^/]+)/customers/(?P<key>[^/]+)", CustomerHandler),
]
