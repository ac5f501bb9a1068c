"""Month-by-month analytics (docs/analytics.md): cohorts and the history forecasting is fitted to.

Months are calendar months of UTC timestamps, bucketed in SQL (`store.analytics.month_of`) and
grouped with the currency, so every amount stays in its own currency.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import replace

from peewee import SQL, Case, fn

from store import forecasting
from store.analytics import Scope, add_amount, month_label, month_of, rate, recovered_amount, seconds_between
from store.models import ChurnEvent

WINDOWS_DAYS = (7, 30, 60, 90)
# Times are compared at millisecond precision (SQLite's julianday keeps milliseconds).
_EPSILON_SECONDS = 0.0005


# --- calendar months -----------------------------------------------------------------------------

def month_start(moment: dt.datetime) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, 1)


def add_months(month: dt.datetime, count: int) -> dt.datetime:
    index = month.year * 12 + (month.month - 1) + count
    if index // 12 > dt.MAXYEAR:
        return dt.datetime.max  # the end of a range that reaches December 9999 (the last year taken)
    return dt.datetime(index // 12, index % 12 + 1, 1)


def months_between(first: dt.datetime, last: dt.datetime) -> int:
    """How many calendar months from `first` to `last`, both included (0 if last < first)."""
    return max(0, (last.year * 12 + last.month) - (first.year * 12 + first.month) + 1)


def month_labels(first: dt.datetime, count: int) -> list[str]:
    return [month_label(add_months(first, i)) for i in range(count)]


def narrow(scope: Scope, start: dt.datetime, end: dt.datetime) -> Scope:
    """`scope` further limited to churned_at in [start, end)."""
    return replace(scope, start=start if scope.start is None else max(scope.start, start),
                   end=end if scope.end is None else min(scope.end, end))


# --- GET /cohorts --------------------------------------------------------------------------------

def cohorts(scope: Scope, first_month: dt.datetime, count: int) -> list[dict]:
    """One row per calendar month of churned_at, `first_month` and the `count - 1` after it."""
    if count <= 0:
        return []
    labels = month_labels(first_month, count)
    scoped = narrow(scope, first_month, add_months(first_month, count))
    recovered = ChurnEvent.status == "recovered"
    delay = seconds_between(ChurnEvent.recovered_at, ChurnEvent.churned_at)
    month = month_of(ChurnEvent.churned_at)
    columns = [month.alias("month"), ChurnEvent.currency, fn.COUNT(SQL("*")),
               fn.SUM(Case(None, [(recovered, 1)], 0))]
    columns += [fn.SUM(Case(None, [(recovered & (delay <= days * 86400 + _EPSILON_SECONDS), 1)], 0))
                for days in WINDOWS_DAYS]
    columns += [fn.SUM(ChurnEvent.mrr_cents), fn.SUM(recovered_amount())]
    rows = (ChurnEvent.select(*columns).where(scoped.where())
            .group_by(month, ChurnEvent.currency).tuples())
    table = {label: {"cohort": label, "churned": 0,
                     "recovered_within": {str(days): 0 for days in WINDOWS_DAYS},
                     "recovered": 0, "recovery_rate": 0.0, "mrr_churned_cents": {}, "mrr_recovered_cents": {}}
             for label in labels}
    for month_value, currency, churned, won, *rest in rows:
        windows, (mrr, won_mrr) = rest[:len(WINDOWS_DAYS)], rest[len(WINDOWS_DAYS):]
        row = table[month_label(month_value)]
        row["churned"] += churned
        row["recovered"] += int(won or 0)
        for days, n in zip(WINDOWS_DAYS, windows):
            row["recovered_within"][str(days)] += int(n or 0)
        add_amount(row["mrr_churned_cents"], currency, mrr)
        add_amount(row["mrr_recovered_cents"], currency, won_mrr)
    for row in table.values():
        row["recovery_rate"] = rate(row["recovered"], row["churned"])
        for name in ("mrr_churned_cents", "mrr_recovered_cents"):
            row[name] = dict(sorted(row[name].items()))
    return [table[label] for label in labels]


# --- GET /forecasting ----------------------------------------------------------------------------

def first_churn(scope: Scope) -> dt.datetime | None:
    value = ChurnEvent.select(fn.MIN(ChurnEvent.churned_at)).where(scope.where()).scalar()
    if isinstance(value, str):  # SQLite hands back the stored text
        value = dt.datetime.fromisoformat(value)
    return value


def forecast(scope: Scope, now: dt.datetime, horizon: int) -> dict:
    """The trailing complete months (at most 12) and, with 3 or more, `horizon` projected months."""
    current = month_start(now)
    first = first_churn(scope)
    last = add_months(current, -1)  # the last complete month
    if scope.end is not None:
        last = min(last, month_start(scope.end - dt.timedelta(microseconds=1)))
    available = months_between(month_start(first), last) if first else 0
    count = min(available, forecasting.MAX_MONTHS)
    answer = {"method": forecasting.METHOD, "horizon": horizon,
              "insufficient_history": available < forecasting.MIN_MONTHS, "history": [], "forecast": []}
    if count == 0:
        return answer
    window_start = add_months(last, -(count - 1))
    window_end = add_months(last, 1)
    labels = month_labels(window_start, count)
    churned = monthly_churned(narrow(scope, window_start, window_end))
    recovered = monthly_recovered(scope, window_start, window_end)
    currencies = sorted({c for _, c in churned} | {c for _, c in recovered})
    answer["history"] = [{"month": label,
                          "mrr_churned_cents": {c: churned.get((label, c), 0) for c in currencies},
                          "mrr_recovered_cents": {c: recovered.get((label, c), 0) for c in currencies}}
                         for label in labels]
    if answer["insufficient_history"]:
        return answer
    future = month_labels(window_end, horizon)
    rows = [{"month": label, "mrr_churned_cents": {}, "mrr_recovered_cents": {}, "mrr_churned_low": {},
             "mrr_churned_high": {}, "mrr_recovered_low": {}, "mrr_recovered_high": {}} for label in future]
    for currency in currencies:
        for name, series in (("churned", churned), ("recovered", recovered)):
            projected = forecasting.project_linear([series.get((label, currency), 0) for label in labels], horizon)
            for row, point in zip(rows, projected):
                row[f"mrr_{name}_cents"][currency] = point.value
                row[f"mrr_{name}_low"][currency] = point.low
                row[f"mrr_{name}_high"][currency] = point.high
    answer["forecast"] = rows
    return answer


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
