"""`/projects/:slug/payment-recoveries`: failed payments being recovered (docs/dunning.md).

List and one (with its dunning emails), stop (the actor closes it and cancels unsent emails),
and the monthly figures of the dashboard's "Failed payments" page.
"""
from __future__ import annotations

from handlers.access import PROJECT_MEMBER
from handlers.base import BaseHandler, list_query_schema
from handlers.responses import (INTEGER, STRING, TIMESTAMP, Returns, enum, list_of, nullable, obj)
from store import payment_recovery_views as views
from store.db import run_db
from store.payment_recoveries import RECOVERY_STATUSES
from store.validation import Choice, Integer, Schema, String

EMAIL_OUT = obj({"step": INTEGER, "status": enum(("scheduled", "sent", "skipped", "cancelled", "failed")),
                 "due_at": TIMESTAMP, "sent_at": nullable(TIMESTAMP), "message_id": nullable(STRING),
                 "error": nullable(STRING)})
RECOVERY_FIELDS = {
    "id": STRING, "customer_email": nullable(STRING), "customer_name": nullable(STRING),
    "customer_id": nullable(STRING), "provider": enum(("stripe", "razorpay", "custom")), "invoice_id": STRING,
    "subscription_id": nullable(STRING), "amount_due_cents": INTEGER, "currency": STRING,
    "attempt_count": INTEGER, "update_payment_url": nullable(STRING), "status": enum(RECOVERY_STATUSES),
    "started_at": TIMESTAMP, "recovered_at": nullable(TIMESTAMP), "closed_at": nullable(TIMESTAMP),
    "amount_recovered_cents": nullable(INTEGER), "emails_sent": INTEGER, "next_email_at": nullable(TIMESTAMP),
    "created_at": TIMESTAMP, "updated_at": TIMESTAMP,
}
RECOVERY_OUT = obj(RECOVERY_FIELDS)
RECOVERY_WITH_EMAILS_OUT = obj({**RECOVERY_FIELDS, "emails": list_of(EMAIL_OUT)})
MONTH_OUT = obj({"month": STRING, "opened": INTEGER, "recovered": INTEGER,
                 "recovery_rate": {"type": "number", "minimum": 0, "maximum": 1},
                 "amount_recovered_cents": {"type": "object", "additionalProperties": {"type": "integer"}}})

LIST = list_query_schema(views.SORT_FIELDS, status=Choice(RECOVERY_STATUSES),
                         customer_email=String(max_length=254))
MONTHS = Schema({"months": Integer(minimum=1, maximum=60, default=12)}, allow_unknown=True)


class PaymentRecoveriesHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    query_schemas = {"GET": LIST}
    response_schemas = {"GET": Returns(RECOVERY_OUT, paged=True)}

    async def get(self, slug):
        """List the project's payment recoveries, filtered and sorted."""
        query = self.parse_query()
        filters = {name: query[name] for name in ("status", "customer_email") if name in query}
        rows, total = await run_db(views.list_recoveries, self.project.id, filters, query["sort"], query["order"],
                                   self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))


class PaymentRecoveryHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    response_schemas = {"GET": Returns(RECOVERY_WITH_EMAILS_OUT)}

    async def get(self, slug, recovery_id):
        """One payment recovery with its dunning emails."""
        await self.reply(await run_db(views.get_json, self.project.id, recovery_id))


class StopPaymentRecoveryHandler(BaseHandler):
    rules = {"POST": PROJECT_MEMBER}
    body_schemas = {"POST": Schema({})}
    body_optional = ("POST",)
    response_schemas = {"POST": Returns(RECOVERY_WITH_EMAILS_OUT)}

    async def post(self, slug, recovery_id):
        """Stop an open recovery: its unsent emails are cancelled (409 when it is not open)."""
        self.parse_body()
        await self.reply(await self.ctx.actors.project(self.project.id).stop_payment_recovery(recovery_id))


class PaymentRecoveryMonthsHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    query_schemas = {"GET": MONTHS}
    response_schemas = {"GET": Returns(list_of(MONTH_OUT))}

    async def get(self, slug):
        """Recoveries opened per calendar month of the failure: how many were recovered, and the
        amount recovered per currency (the last `months` months with any)."""
        query = self.parse_query()
        await self.reply(await run_db(views.monthly, self.project.id, query["months"]))


_PROJECT = r"/api/v1/projects/(?P<slug>[^/]+)"
_ONE = _PROJECT + r"/payment-recoveries/(?P<recovery_id>[^/]+)"
default_handlers = [
    (_PROJECT + "/payment-recoveries", PaymentRecoveriesHandler),
    (_PROJECT + "/payment-recovery-months", PaymentRecoveryMonthsHandler),
    (_ONE, PaymentRecoveryHandler),
    (_ONE + "/stop", StopPaymentRecoveryHandler),
]
