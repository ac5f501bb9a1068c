"""Month-by-month analytics (docs/analytics.md): cohorts and the history forecasting is fitted to.

Months are calendar months of UTC timestamps, grouped with the currency, so every amount stays in
its own currency. The answers are built here from per-month figures that the caller counts, from
the rollups (store/analytics_rollups.py) or by a full scan (store/analytics_scan.py).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace

from typing import Callable

from store import forecasting
from store.analytics import Scope, add_amount, rate
from store.analytics_sql import WINDOWS_DAYS, month_label


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

def cohorts(scope: Scope, first_month: dt.datetime, count: int, month_rows: Callable) -> list[dict]:
    """One row per calendar month of churned_at, `first_month` and the `count - 1` after it.
    `month_rows(scope)` counts the events of a scope per month and currency: rows of (month label,
    currency, churned, recovered, recovered within each of WINDOWS_DAYS..., mrr, mrr recovered)."""
    if count <= 0:
        return []
    labels = month_labels(first_month, count)
    rows = month_rows(narrow(scope, first_month, add_months(first_month, count)))
    table = {label: {"cohort": label, "churned": 0,
                     "recovered_within": {str(days): 0 for days in WINDOWS_DAYS},
                     "recovered": 0, "recovery_rate": 0.0, "mrr_churned_cents": {}, "mrr_recovered_cents": {}}
             for label in labels}
    for label, currency, churned, won, *rest in rows:
        windows, (mrr, won_mrr) = rest[:len(WINDOWS_DAYS)], rest[len(WINDOWS_DAYS):]
        row = table[label]
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

@dataclass(frozen=True)
class MonthlyFigures:
    """How a forecast counts: `first_churn(scope)` (the first churned_at in scope, or any moment
    of its month), `churned(scope)` ((month label, currency) -> MRR churned) and
    `recovered(scope, start, end)` ((month label of recovered_at, currency) -> MRR won back in
    [start, end), of events in scope)."""

    first_churn: Callable
    churned: Callable
    recovered: Callable


def forecast(scope: Scope, now: dt.datetime, horizon: int, figures: MonthlyFigures) -> dict:
    """The trailing complete months (at most 12) and, with 3 or more, `horizon` projected months."""
    current = month_start(now)
    first = figures.first_churn(scope)
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
    churned = figures.churned(narrow(scope, window_start, window_end))
    recovered = figures.recovered(scope, window_start, window_end)
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
