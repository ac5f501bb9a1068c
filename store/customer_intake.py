"""Tracked events into the customer tables, inside the `/track` group commit.

Each batch adds its events to the daily counts (`customer_activity`: one multi-row upsert, the
counts per customer, day and name added up first) in the batch's own transaction, so an event
and its count commit together.

The customer's row (first/last seen, and the `activity_seq` bump that asks for a new score) is
the dearer write, and a busy customer sends many events a minute. So a process writes a
customer's row at most once a minute: the events of a customer whose row this process wrote less
than a minute ago are merged into a pending entry, written by `flush_pending` (before this
process reads that project's customers, and by the housekeeping every minute). Their counts are
stored at once either way; only the score can lag new events by about a minute (two with
several processes), and `last_seen_at` is exact to the minute. docs/customers.md explains it.
"""
from __future__ import annotations

import threading
import time
from collections import defaultdict

from store.db import database, is_sqlite, transaction

WRITE_EVERY_SECONDS = 60.0
CHUNK = 300  # rows per upsert statement (7 values a row: far below SQLite's bound-variable limit)

_lock = threading.Lock()
_written: dict[tuple[str, str], float] = {}  # (project, key) -> when this process last wrote the row
_pending: dict[tuple[str, str], list] = {}  # (project, key) -> a customer row not yet written
_SQL: dict[tuple, str] = {}


def _customer_upsert_sql(rows: int) -> str:
    sqlite = is_sqlite()
    sql = _SQL.get(("customers", rows, sqlite))
    if sql is None:
        mark = "?" if sqlite else "%s"
        low, high = ("MIN", "MAX") if sqlite else ("LEAST", "GREATEST")
        a_minute_before = ("datetime(excluded.last_event_at, '-60 seconds')" if sqlite
                           else "excluded.last_event_at - interval '60 seconds'")
        one = "(" + ", ".join([mark] * 7) + ")"
        # The row is rewritten only when it has news: a customer not yet waiting to be scored
        # again, an event more than a minute after the last one kept, an earlier first event, or
        # a first email.
        sql = ('INSERT INTO "customers" (project_id, key, customer_id, customer_email, first_seen_at, '
               "last_seen_at, last_event_at) VALUES " + ", ".join([one] * rows)
               + " ON CONFLICT (project_id, key) DO UPDATE SET"
               " customer_id = COALESCE(customers.customer_id, excluded.customer_id),"
               " customer_email = COALESCE(customers.customer_email, excluded.customer_email),"
               f" first_seen_at = {low}(customers.first_seen_at, excluded.first_seen_at),"
               f" last_seen_at = {high}(customers.last_seen_at, excluded.last_seen_at),"
               f" last_event_at = {high}(COALESCE(customers.last_event_at, excluded.last_event_at),"
               " excluded.last_event_at),"
               " activity_seq = customers.activity_seq + 1"
               " WHERE customers.activity_seq = customers.scored_seq OR customers.last_event_at IS NULL"
               f" OR {a_minute_before} > customers.last_event_at"
               " OR excluded.first_seen_at < customers.first_seen_at"
               " OR (customers.customer_email IS NULL AND excluded.customer_email IS NOT NULL)")
        _SQL[("customers", rows, sqlite)] = sql
    return sql


def _activity_upsert_sql(rows: int) -> str:
    sqlite = is_sqlite()
    sql = _SQL.get(("activity", rows, sqlite))
    if sql is None:
        mark = "?" if sqlite else "%s"
        one = "(" + ", ".join([mark] * 6) + ")"
        sql = ('INSERT INTO "customer_activity" (project_id, customer_key, day, kind, name, count) VALUES '
               + ", ".join([one] * rows)
               + " ON CONFLICT (project_id, customer_key, day, kind, name)"
               " DO UPDATE SET count = customer_activity.count + excluded.count")
        _SQL[("activity", rows, sqlite)] = sql
    return sql


def _merge(into: list, other: list) -> None:
    """Two customer rows [project, key, id, email, first, last, last_event] as one."""
    into[2] = into[2] or other[2]
    into[3] = into[3] or other[3]
    into[4] = min(into[4], other[4])
    into[5] = into[6] = max(into[5], other[5])


def add_tracked(rows: list[tuple]) -> None:
    """Fold tracked-event rows (`store.tracking.FIELDS` order; timestamps as SQLite text or
    datetimes) into the customer tables, inside the caller's transaction. Rows are sorted so
    that concurrent writers lock them in the same order."""
    people: dict[tuple, list] = {}
    counts: dict[tuple, int] = defaultdict(int)
    for project_id, event, customer_id, email, _props, occurred, _received in rows:
        key = customer_id or email
        counts[(project_id, key, occurred[:10] if isinstance(occurred, str) else occurred.date(), event)] += 1
        person = people.get((project_id, key))
        if person is None:
            people[(project_id, key)] = [project_id, key, customer_id, email, occurred, occurred, occurred]
            continue
        if occurred > person[5]:
            person[5] = person[6] = occurred
        elif occurred < person[4]:
            person[4] = occurred
        if email and not person[3]:
            person[3] = email
    now = time.monotonic()
    due = []
    with _lock:
        for ident, person in people.items():
            if now - _written.get(ident, -WRITE_EVERY_SECONDS) < WRITE_EVERY_SECONDS:
                if ident in _pending:
                    _merge(_pending[ident], person)
                else:
                    _pending[ident] = person
                continue
            earlier = _pending.pop(ident, None)
            if earlier is not None:
                _merge(person, earlier)
            _written[ident] = now
            due.append(person)
    db = database.obj
    _upsert_many(db, _customer_upsert_sql, sorted(due, key=lambda person: (person[0], person[1])))
    _upsert_many(db, _activity_upsert_sql,
                 [(p, k, day, "event", name, n) for (p, k, day, name), n in sorted(counts.items())])


def flush_pending(project_id: str | None = None) -> int:
    """Write the customer rows this process held back (of one project, or all). Returns how many."""
    with _lock:
        idents = [ident for ident in _pending if project_id is None or ident[0] == project_id]
        rows = [_pending.pop(ident) for ident in idents]
        now = time.monotonic()
        for ident in idents:
            _written[ident] = now
        if project_id is None:  # forget what is too old to matter (housekeeping calls this)
            for ident in [i for i, at in _written.items() if now - at >= WRITE_EVERY_SECONDS]:
                del _written[ident]
    if rows:
        with transaction():
            _upsert_many(database.obj, _customer_upsert_sql, sorted(rows, key=lambda person: (person[0], person[1])))
    return len(rows)


def _upsert_many(db, sql_for, rows: list) -> None:
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start:start + CHUNK]
        db.execute_sql(sql_for(len(chunk)), [value for row in chunk for value in row])
