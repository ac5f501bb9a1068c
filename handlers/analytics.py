"""`GET /projects/:slug/stats`, `/cohorts`, `/forecasting` (definitions in docs/analytics.md).

Reads only: the answers are added up from the analytics rollups (store/analytics_rollups.py) on
the worker pool, and cached per project until the next write to it (`services.analytics_cache`).
"""
from __future__ import annotations

import asyncio
import datetime as dt

from handlers.access import PROJECT_MEMBER
from handlers.base import BaseHandler
from handlers.churn_events import Currency
from handlers.responses import ANY_OBJECT, BOOLEAN, INTEGER, STRING, Returns, list_of, obj
from store.input_rules import YEARS_MESSAGE, read_timestamp
from store.validation import Field, FieldError, Integer, Schema, validation_error
from services.analytics_cache import AnalyticsCache
from store import analytics, analytics_rollups, payment_recovery_views
from store.analytics_months import add_months, month_start, months_between
from store.db import run_db
from store.models import utcnow
from store.projects import project_settings

MAX_COHORT_MONTHS = 120
_ONE_DAY = dt.timedelta(days=1)
_INSTANT = dt.timedelta(microseconds=1)


class DateBound(Field):
    """An ISO 8601 date (`2026-03-31`) or timestamp; returns (naive UTC datetime, date_only)."""

    type_name = "string"

    def convert(self, value, path, from_query):
        text = value.strip() if isinstance(value, str) else ""
        try:
            parsed = read_timestamp(text)
        except ValueError as error:
            raise FieldError(YEARS_MESSAGE if str(error) == YEARS_MESSAGE else
                             "must be an ISO 8601 date (2026-03-31) or timestamp (2026-03-31T12:00:00Z)") from None
        return parsed, len(text) == 10

    def _schema(self):
        return {"type": "string", "format": "date-time"}


RANGE_FIELDS = {"from": DateBound(), "to": DateBound(), "currency": Currency()}
# Unknown query parameters are ignored, as on the list endpoints.
STATS = Schema(RANGE_FIELDS, allow_unknown=True)
COHORTS = Schema({**RANGE_FIELDS, "months": Integer(minimum=1, maximum=MAX_COHORT_MONTHS, default=12)},
                 allow_unknown=True)
FORECASTING = Schema({**RANGE_FIELDS, "horizon": Integer(minimum=1, maximum=12, default=3)}, allow_unknown=True)


RATE = {"type": "number", "minimum": 0, "maximum": 1}
PER_CURRENCY = {"type": "object", "additionalProperties": {"type": "integer"},
                "description": "minor units per currency (never summed across currencies)"}
STATS_OUT = obj({
    "churn_events": INTEGER, "recovered": INTEGER, "lost": INTEGER, "saved": INTEGER, "open": INTEGER,
    "recovery_rate": RATE, "save_rate": RATE, "cancel_flow_submissions": INTEGER,
    "mrr_churned_cents": PER_CURRENCY, "mrr_recovered_cents": PER_CURRENCY, "emails_sent": INTEGER,
    "currencies": list_of(STRING), "by_reason": ANY_OBJECT, "by_source": ANY_OBJECT,
    "by_status": {"type": "object", "additionalProperties": {"type": "integer"}},
    "by_variant": list_of(obj({"strategy": STRING, "tone": STRING, "sent": INTEGER, "recovered": INTEGER,
                               "recovery_rate": RATE}, extra=True)),
    "payment_recovery": obj({"opened": INTEGER, "recovered": INTEGER, "failed": INTEGER, "stopped": INTEGER,
                             "open": INTEGER, "recovery_rate": RATE, "amount_due_cents": PER_CURRENCY,
                             "amount_recovered_cents": PER_CURRENCY,
                             "recovered_after_step": {"type": "object", "additionalProperties": {"type": "integer"}}}),
})
COHORTS_OUT = obj({"cohorts": list_of(obj({"cohort": STRING, "churned": INTEGER, "recovered": INTEGER,
                                           "recovered_within": ANY_OBJECT, "recovery_rate": RATE},
                                          extra=True))})
FORECAST_OUT = obj({"method": STRING, "horizon": INTEGER, "insufficient_history": BOOLEAN,
                    "history": list_of(ANY_OBJECT), "forecast": list_of(ANY_OBJECT)},
                   required=("method", "horizon", "insufficient_history", "history", "forecast"), extra=True)


def analytics_cache(ctx) -> AnalyticsCache:
    # Settings change answers too (lost_after_days); churn data changes them most often.
    return ctx.service("analytics_cache", AnalyticsCache, forgets_projects=True, forgets_data=True)


def _range_error(field: str, message: str):
    return validation_error([{"field": field, "message": message}])


class AnalyticsHandler(BaseHandler):
    rules = {"GET": PROJECT_MEMBER}
    endpoint = ""
    schema = STATS

    async def get(self, slug):
        query = self.parse_query(self.schema)
        scope = self.scope(query)
        arguments = self.arguments(query, scope)
        cache = analytics_cache(self.ctx)
        key = cache.key(self.project.id, self.endpoint, (scope, arguments))
        answer = cache.get(key)
        if answer is None:
            answer = await self.answer(scope, arguments, utcnow())
            cache.put(key, answer)
        await self.reply(answer)

    def scope(self, query: dict) -> analytics.Scope:
        """from/to as a half-open range: a date `to` includes that whole day (UTC)."""
        start = end = None
        if "from" in query:
            start = query["from"][0]
        if "to" in query:
            moment, date_only = query["to"]
            step = _ONE_DAY if date_only else _INSTANT
            # `to` may be the last day the API takes (9999-12-31): the range then runs to the end of time.
            end = moment + step if moment <= dt.datetime.max - step else dt.datetime.max
        if start is not None and end is not None and start >= end:
            raise _range_error("from", "must not be after `to`")
        lost_after_days = int(project_settings(self.project)["lost_after_days"])
        return analytics.Scope(self.project.id, lost_after_days, start, end, query.get("currency"))

    def arguments(self, query: dict, scope: analytics.Scope) -> tuple:
        """What the endpoint computes from besides the scope (hashable: part of the cache key)."""
        return ()

    async def answer(self, scope: analytics.Scope, arguments: tuple, now: dt.datetime):
        return await run_db(self.compute, scope, arguments, now)

    def compute(self, scope: analytics.Scope, arguments: tuple, now: dt.datetime):
        raise NotImplementedError


class StatsHandler(AnalyticsHandler):
    """Churn and recovery figures of a project, for a range of churn dates."""

    endpoint = "stats"
    schema = STATS
    query_schemas = {"GET": STATS}
    response_schemas = {"GET": Returns(STATS_OUT)}

    async def answer(self, scope, arguments, now):
        # Two independent parts, side by side on the worker pool: the churn figures (rollups) and
        # the failed payments started in the range (docs/dunning.md).
        answer, payments = await asyncio.gather(
            run_db(analytics_rollups.stats, scope, now),
            run_db(payment_recovery_views.stats, scope.project_id, scope.start, scope.end, scope.currency))
        answer["payment_recovery"] = payments
        return answer


class CohortsHandler(AnalyticsHandler):
    """Rows from the month of `from` to the month of `to`; without `from`, the `months` months
    ending with the month of `to` (default: the current month)."""

    endpoint = "cohorts"
    schema = COHORTS
    query_schemas = {"GET": COHORTS}
    response_schemas = {"GET": Returns(COHORTS_OUT)}

    def arguments(self, query: dict, scope: analytics.Scope) -> tuple[dt.datetime, int]:
        last = month_start(scope.end - _INSTANT) if scope.end is not None else month_start(utcnow())
        if scope.start is None:
            return add_months(last, -(query["months"] - 1)), query["months"]
        first = month_start(scope.start)
        count = months_between(first, last)
        if count > MAX_COHORT_MONTHS:
            raise _range_error("from", f"from/to span {count} months; at most {MAX_COHORT_MONTHS} are shown")
        return first, count

    def compute(self, scope, arguments, now):
        first, count = arguments
        return {"cohorts": analytics_rollups.cohorts(scope, first, count)}


class ForecastingHandler(AnalyticsHandler):
    """Churned and recovered MRR of the coming months, from the complete months so far."""

    endpoint = "forecasting"
    schema = FORECASTING
    query_schemas = {"GET": FORECASTING}
    response_schemas = {"GET": Returns(FORECAST_OUT)}

    def arguments(self, query, scope):
        # The current month decides which months are complete.
        return (query["horizon"], month_start(utcnow()))

    def compute(self, scope, arguments, now):
        horizon, current_month = arguments
        return analytics_rollups.forecast(scope, current_month, horizon)


_PROJECT = r"/api/v1/projects/(?P<slug>[^/]+)"
default_handlers = [
    (_PROJECT + "/stats", StatsHandler),
    (_PROJECT + "/cohorts", CohortsHandler),
    (_PROJECT + "/forecasting", ForecastingHandler),
]
