"""The SQL pieces every analytics figure is computed with, shared by the full scan
(store/analytics_scan.py) and the rollups (store/rollups.py, store/analytics_rollups.py), so
both count an event the same way, down to the floating-point test of "recovered within N days".

Low in the store: it imports only the database and the churn-event model, so the writers of
churn events can use it without an import cycle.
"""
from __future__ import annotations

import datetime as dt

import peewee
from peewee import SQL, Case, fn

from store.db import is_sqlite
from store.models import ChurnEvent

WINDOWS_DAYS = (7, 30, 60, 90)
# Times are compared at millisecond precision (SQLite's julianday keeps milliseconds).
_EPSILON_SECONDS = 0.0005


def month_of(column) -> peewee.Node:
    """The calendar month of a (naive UTC) timestamp column; `month_label` reads the value.
    SQLite: strftime('%Y-%m') with the format as a literal, not a parameter. PostgreSQL:
    date_trunc('month'), which its planner has statistics for (m0008), so it aggregates with a hash
    instead of sorting."""
    if is_sqlite():
        return fn.strftime(SQL("'%Y-%m'"), column)
    return fn.date_trunc(SQL("'month'"), column)


def month_label(value) -> str:
    """'YYYY-MM' of what `month_of` returned (text on SQLite, a timestamp on PostgreSQL)."""
    if isinstance(value, str):
        return value[:7]
    return f"{value.year:04d}-{value.month:02d}"


def seconds_between(later, earlier) -> peewee.Node:
    """later - earlier in seconds (float). SQLite's julianday keeps milliseconds."""
    if is_sqlite():
        return (fn.julianday(later) - fn.julianday(earlier)) * 86400.0
    return fn.date_part("epoch", later - earlier)


def recovered_amount() -> peewee.Node:
    """Money won back by an event: its recovered_mrr_cents if (and only if) it is recovered."""
    return Case(None, [(ChurnEvent.status == "recovered", fn.COALESCE(ChurnEvent.recovered_mrr_cents, 0))], 0)


def recovered_within(days: int) -> peewee.Node:
    """1 if the event is recovered at most `days` x 24 h after it churned, else 0."""
    delay = seconds_between(ChurnEvent.recovered_at, ChurnEvent.churned_at)
    return Case(None, [((ChurnEvent.status == "recovered") & (delay <= days * 86400 + _EPSILON_SECONDS), 1)], 0)


# --- keys of the rollup tables ---------------------------------------------------------------------

def timestamp(value) -> dt.datetime | None:
    """A timestamp as a driver may return it (text on SQLite for raw rows) -> naive datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def month_key(moment: dt.datetime) -> int:
    """The rollups' month: 2025-03 -> 202503 (ordered like the months)."""
    return moment.year * 100 + moment.month


def day_key(moment: dt.datetime) -> int:
    """The rollups' day: 2025-03-09 -> 20250309."""
    return moment.year * 10000 + moment.month * 100 + moment.day


def month_key_label(key: int) -> str:
    return f"{key // 100:04d}-{key % 100:02d}"


def month_key_start(key: int) -> dt.datetime:
    return dt.datetime(key // 100, key % 100, 1)
