"""The analytics endpoints' answers, from the rollups (store/rollups.py; docs/analytics.md).

A scope's whole months are added up from the rollup rows (a few thousand at most, whatever the
number of events). A day-precise `from` or `to` that cuts a month leaves a partial month at
either end: the events of those (at most two) months are counted by the full scan
(store/analytics_scan.py), restricted to them. Which open events read as `lost` depends on the
time of the read, to the day and below: whole days come from the open-events-per-day rollup and
the one or two partial days from the events. The rows are folded exactly as the full scan folds
its own (store/analytics.py), so the answers are identical (tests/test_analytics_rollups.py).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Callable

from peewee import SQL, Case, fn

from store import analytics_months, analytics_scan
from store.analytics import Scope, add_counts, combine, fold_event_groups
from store.analytics_months import add_months, month_start
from store.analytics_sql import day_key, month_key, month_key_label, month_key_start
from store.churn_event_reads import lost_cutoff
from store.models import OPEN_STATUSES, ChurnEvent
from store.rollups import ActivityRollup, ChurnRollup, OpenDayRollup

_DAY = dt.timedelta(days=1)


# --- whole units and partial edges ---------------------------------------------------------------

def _next_month(moment: dt.datetime) -> dt.datetime | None:
    following = add_months(moment, 1)
    return None if following == dt.datetime.max else following


def _next_day(moment: dt.datetime) -> dt.datetime | None:
    return moment + _DAY if moment <= dt.datetime.max - _DAY else None


def _floor_day(moment: dt.datetime) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, moment.day)


def split(start, end, floor: Callable, step: Callable):
    """[start, end) (None: unbounded) as whole units [full_start, full_end) (None if there are
    none) and the partial units at its edges, as (start, end) pairs."""
    if start is not None and end is not None and start >= end:
        return None, []
    edges = []
    full_start, full_end = start, end
    if start is not None and floor(start) != start:
        following = step(floor(start))
        if following is None or (end is not None and end <= following):
            return None, [(start, end)]
        edges.append((start, following))
        full_start = following
    if end is not None and floor(end) != end:
        full_end = floor(end)
        edges.append((full_end, end))
    if full_start is not None and full_end is not None and full_start >= full_end:
        return None, edges
    return (full_start, full_end), edges


def _months(scope: Scope):
    """The scope's whole months (for the rollups) and its partial months (scopes for the scan)."""
    full, edges = split(scope.start, scope.end, month_start, _next_month)
    return full, [replace(scope, start=a, end=b) for a, b in edges]


def _where(model, scope: Scope, full, column, key: Callable):
    condition = model.project == scope.project_id
    start, end = full
    if start is not None:
        condition &= column >= key(start)
    if end is not None:
        condition &= column < key(end)
    if scope.currency is not None:
        condition &= model.currency == scope.currency
    return condition


def _cube_where(scope: Scope, full):
    return _where(ChurnRollup, scope, full, ChurnRollup.month, month_key) & (ChurnRollup.events > 0)


# --- GET /stats ------------------------------------------------------------------------------------

def stats(scope: Scope, now: dt.datetime) -> dict:
    """GET /stats (without `payment_recovery`)."""
    full, edges = _months(scope)
    rows = []
    sent: dict = {}
    credited: dict = {}
    submissions = 0
    if full is not None:
        keys = (ChurnRollup.currency, ChurnRollup.cancel_reason, ChurnRollup.source, ChurnRollup.status)
        rows += [(*row[:4], *map(int, row[4:]), 0) for row in ChurnRollup.select(
            *keys, fn.SUM(ChurnRollup.events), fn.SUM(ChurnRollup.mrr_cents), fn.SUM(ChurnRollup.recovered_mrr_cents))
            .where(_cube_where(scope, full)).group_by(*keys).tuples()]
        activity = (ActivityRollup.select(ActivityRollup.kind, ActivityRollup.strategy, ActivityRollup.tone,
                                          fn.SUM(ActivityRollup.count))
                    .where(_where(ActivityRollup, scope, full, ActivityRollup.month, month_key)
                           & (ActivityRollup.count > 0))
                    .group_by(ActivityRollup.kind, ActivityRollup.strategy, ActivityRollup.tone).tuples())
        for kind, strategy, tone, n in activity:
            if kind == "submission":
                submissions += int(n)
            else:
                add_counts(sent if kind == "sent" else credited, {(strategy, tone): int(n)})
    for edge in edges:
        rows += [(*row[:7], 0) for row in analytics_scan.event_rows(edge, now)]
        add_counts(sent, analytics_scan.emails_sent_by_kind(edge))
        add_counts(credited, analytics_scan.recoveries_by_kind(edge))
        submissions += analytics_scan.cancel_flow_submissions(edge)
    groups = fold_event_groups(rows, stale_open_events(scope, now))
    return combine(groups, (sent, submissions), credited)


def stale_open_events(scope: Scope, now: dt.datetime) -> dict[str, int]:
    """Open status -> events in scope churned before the lost cut-off (they read as `lost`)."""
    cutoff = lost_cutoff(scope.lost_after_days, now)
    end = cutoff if scope.end is None else min(scope.end, cutoff)
    if scope.start is not None and scope.start >= end:
        return {}
    full, edges = split(scope.start, end, _floor_day, _next_day)
    stale: dict[str, int] = {}
    if full is not None:
        where = _where(OpenDayRollup, scope, full, OpenDayRollup.day, day_key) & (OpenDayRollup.events > 0)
        add_counts(stale, {status: int(n) for status, n in OpenDayRollup.select(
            OpenDayRollup.status, fn.SUM(OpenDayRollup.events)).where(where).group_by(OpenDayRollup.status).tuples()})
    for start, stop in edges:  # partial days: the events themselves
        part = replace(scope, start=start, end=stop)
        add_counts(stale, {status: int(n) for status, n in ChurnEvent.select(ChurnEvent.status, fn.COUNT(SQL("*")))
                           .where(part.where() & ChurnEvent.status.in_(OPEN_STATUSES))
                           .group_by(ChurnEvent.status).tuples()})
    return stale


# --- GET /cohorts and /forecasting ----------------------------------------------------------------------

def cohorts(scope: Scope, first_month: dt.datetime, count: int) -> list[dict]:
    return analytics_months.cohorts(scope, first_month, count, cohort_rows)


def forecast(scope: Scope, now: dt.datetime, horizon: int) -> dict:
    return analytics_months.forecast(scope, now, horizon, FIGURES)


def cohort_rows(scope: Scope) -> list[tuple]:
    """As analytics_scan.cohort_rows: (month label, currency, churned, recovered, within..., mrr,
    mrr recovered)."""
    full, edges = _months(scope)
    rows = []
    if full is not None:
        recovered = fn.SUM(Case(None, [(ChurnRollup.status == "recovered", ChurnRollup.events)], 0))
        query = (ChurnRollup.select(ChurnRollup.month, ChurnRollup.currency, fn.SUM(ChurnRollup.events), recovered,
                                    fn.SUM(ChurnRollup.within_7), fn.SUM(ChurnRollup.within_30),
                                    fn.SUM(ChurnRollup.within_60), fn.SUM(ChurnRollup.within_90),
                                    fn.SUM(ChurnRollup.mrr_cents), fn.SUM(ChurnRollup.recovered_mrr_cents))
                 .where(_cube_where(scope, full)).group_by(ChurnRollup.month, ChurnRollup.currency).tuples())
        rows += [(month_key_label(month), currency, *map(int, rest)) for month, currency, *rest in query]
    for edge in edges:
        rows += analytics_scan.cohort_rows(edge)
    return rows


def first_churn(scope: Scope) -> dt.datetime | None:
    """The first churn in scope, or the start of its month (all a forecast needs)."""
    full, edges = _months(scope)
    found = [moment for moment in (analytics_scan.first_churn(edge) for edge in edges) if moment is not None]
    if full is not None:
        month = ChurnRollup.select(fn.MIN(ChurnRollup.month)).where(_cube_where(scope, full)).scalar()
        if month is not None:
            found.append(month_key_start(month))
    return min(found) if found else None


def monthly_churned(scope: Scope) -> dict[tuple[str, str], int]:
    full, edges = _months(scope)
    out: dict = {}
    if full is not None:
        query = (ChurnRollup.select(ChurnRollup.month, ChurnRollup.currency, fn.SUM(ChurnRollup.mrr_cents))
                 .where(_cube_where(scope, full)).group_by(ChurnRollup.month, ChurnRollup.currency).tuples())
        add_counts(out, {(month_key_label(month), currency): int(total or 0) for month, currency, total in query})
    for edge in edges:
        add_counts(out, analytics_scan.monthly_churned(edge))
    return out


def monthly_recovered(scope: Scope, start: dt.datetime, end: dt.datetime) -> dict[tuple[str, str], int]:
    """MRR won back per month of recovery in [start, end) (whole months), of events in scope."""
    full, edges = _months(scope)
    out: dict = {}
    if full is not None:
        query = (ChurnRollup.select(ChurnRollup.recovered_month, ChurnRollup.currency,
                                    fn.SUM(ChurnRollup.recovered_mrr_cents))
                 .where(_cube_where(scope, full) & (ChurnRollup.status == "recovered")
                        & (ChurnRollup.recovered_month >= month_key(start))
                        & (ChurnRollup.recovered_month < month_key(end)))
                 .group_by(ChurnRollup.recovered_month, ChurnRollup.currency).tuples())
        add_counts(out, {(month_key_label(month), currency): int(total or 0) for month, currency, total in query})
    for edge in edges:
        add_counts(out, analytics_scan.monthly_recovered(edge, start, end))
    return out


FIGURES = analytics_months.MonthlyFigures(first_churn, monthly_churned, monthly_recovered)
