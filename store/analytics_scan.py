"""The full scan (docs/analytics.md): every figure counted from the churn events themselves, with
grouped SQL over indexed columns, the same on SQLite and PostgreSQL.

The endpoints answer from rollups (store/analytics_rollups.py). This is what the rollups must
equal: `scripts/rebuild_rollups.py --verify` and tests/test_analytics_rollups.py compare the two,
and the rollups read the events of a partial month (a day-precise range) through these queries.
Python only folds the grouped rows (store/analytics.py).
"""
from __future__ import annotations

import datetime as dt

from peewee import JOIN, SQL, Case, fn

from store import analytics_months
from store.analytics import Scope, combine, fold_event_groups
from store.analytics_sql import WINDOWS_DAYS, month_label, month_of, recovered_amount, recovered_within
from store.cancel_flow import CancelFlowSubmission
from store.churn_event_reads import lost_cutoff
from store.models import ChurnEvent
from store.variants import Variant


# --- GET /stats ----------------------------------------------------------------------------------
# Three parts: the events grouped by currency, reason, source and status; emails sent and
# cancel-flow answers; recoveries per kind of email. `combine` folds them into the answer.

def stats(scope: Scope, now: dt.datetime) -> dict:
    """GET /stats counted from the events (without `payment_recovery`, which is not about them)."""
    return combine(event_groups(scope, now), sends_and_submissions(scope), recoveries_by_kind(scope))


def event_rows(scope: Scope, now: dt.datetime) -> list[tuple]:
    """(currency, reason, source, stored status, count, mrr, won, stale) of the events in scope.
    Grouped by the stored status; `stale` counts the open events churned before the cut-off,
    which readers see as `lost`."""
    cutoff = lost_cutoff(scope.lost_after_days, now)
    stale = fn.SUM(Case(None, [(ChurnEvent.churned_at < cutoff, 1)], 0))
    keys = (ChurnEvent.currency, ChurnEvent.cancel_reason, ChurnEvent.source, ChurnEvent.status)
    return list(ChurnEvent
                .select(*keys, fn.COUNT(SQL("*")), fn.SUM(ChurnEvent.mrr_cents), fn.SUM(recovered_amount()), stale)
                .where(scope.where()).group_by(*keys).tuples())


def event_groups(scope: Scope, now: dt.datetime) -> dict:
    return fold_event_groups(event_rows(scope, now))


def sends_and_submissions(scope: Scope) -> tuple[dict, int]:
    return emails_sent_by_kind(scope), cancel_flow_submissions(scope)


def cancel_flow_submissions(scope: Scope) -> int:
    """Submissions whose churn event is in scope (the denominator of save_rate)."""
    query = CancelFlowSubmission.select(fn.COUNT(CancelFlowSubmission.id))
    if scope.narrowed:
        query = (query.join(ChurnEvent, on=(CancelFlowSubmission.churn_event == ChurnEvent.id))
                 .where(scope.where()))
    else:
        query = query.where(CancelFlowSubmission.project == scope.project_id)
    return query.scalar() or 0


def emails_sent_by_kind(scope: Scope) -> dict[tuple[str, str], int]:
    """(strategy, tone) -> emails sent for events in scope."""
    if scope.narrowed:  # from the events in scope to their emails (variants_analytics_event)
        query = (ChurnEvent.select(Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
                 .join(Variant, on=(Variant.churn_event == ChurnEvent.id))
                 .where(scope.where() & (Variant.status == "sent")))
    else:  # every email of the project (variants_analytics_sent)
        query = (Variant.select(Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
                 .where((Variant.project == scope.project_id) & (Variant.status == "sent")))
    return {(s, t): n for s, t, n in query.group_by(Variant.strategy, Variant.tone).tuples()}


def recoveries_by_kind(scope: Scope) -> dict[tuple[str, str], int]:
    """(strategy, tone) -> recovered events in scope credited to an email of that kind."""
    query = (ChurnEvent.select(Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
             .join(Variant, JOIN.INNER, on=(ChurnEvent.recovered_by_variant_id == Variant.id))
             .where(scope.where() & (ChurnEvent.status == "recovered"))
             .group_by(Variant.strategy, Variant.tone).tuples())
    return {(s, t): n for s, t, n in query}


# --- GET /cohorts and /forecasting ------------------------------------------------------------------

def cohorts(scope: Scope, first_month: dt.datetime, count: int) -> list[dict]:
    return analytics_months.cohorts(scope, first_month, count, cohort_rows)


def forecast(scope: Scope, now: dt.datetime, horizon: int) -> dict:
    return analytics_months.forecast(scope, now, horizon, FIGURES)


def cohort_rows(scope: Scope) -> list[tuple]:
    """(month label, currency, churned, recovered, within 7/30/60/90 days, mrr, mrr recovered)."""
    month = month_of(ChurnEvent.churned_at)
    columns = [month.alias("month"), ChurnEvent.currency, fn.COUNT(SQL("*")),
               fn.SUM(Case(None, [(ChurnEvent.status == "recovered", 1)], 0))]
    columns += [fn.SUM(recovered_within(days)) for days in WINDOWS_DAYS]
    columns += [fn.SUM(ChurnEvent.mrr_cents), fn.SUM(recovered_amount())]
    rows = (ChurnEvent.select(*columns).where(scope.where())
            .group_by(month, ChurnEvent.currency).tuples())
    return [(month_label(value), *rest) for value, *rest in rows]


def first_churn(scope: Scope) -> dt.datetime | None:
    value = ChurnEvent.select(fn.MIN(ChurnEvent.churned_at)).where(scope.where()).scalar()
    if isinstance(value, str):  # SQLite hands back the stored text
        value = dt.datetime.fromisoformat(value)
    return value


def monthly_churned(scope: Scope) -> dict[tuple[str, str], int]:
    """(month of churned_at, currency) -> MRR churned (gross)."""
    month = month_of(ChurnEvent.churned_at)
    rows = (ChurnEvent.select(month, ChurnEvent.currency, fn.SUM(ChurnEvent.mrr_cents))
            .where(scope.where()).group_by(month, ChurnEvent.currency).tuples())
    return {(month_label(value), currency): int(total or 0) for value, currency, total in rows}


def monthly_recovered(scope: Scope, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]:
    """(month of recovered_at, currency) -> MRR won back in that month, of events in scope.
    Bucketed by the month of the recovery, not of the churn: a cohort view would understate the
    latest months (their recoveries are still to come) and bend the trend down."""
    month = month_of(ChurnEvent.recovered_at)
    rows = (ChurnEvent.select(month, ChurnEvent.currency, fn.SUM(ChurnEvent.recovered_mrr_cents))
            .where(scope.where() & (ChurnEvent.status == "recovered")
                   & (ChurnEvent.recovered_at >= start) & (ChurnEvent.recovered_at < end))
            .group_by(month, ChurnEvent.currency).tuples())
    return {(month_label(value), currency): int(total or 0) for value, currency, total in rows}


FIGURES = analytics_months.MonthlyFigures(first_churn, monthly_churned, monthly_recovered)
