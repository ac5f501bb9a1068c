"""Tracked events (`POST /track`, SPEC 5): what a customer's backend reports users doing.

The highest-volume write of the server, so rows go through a `GroupCommitter`: the requests that
arrive within a few milliseconds share one transaction, and each is answered only after its rows
committed. A request's rows are one item of the batch, so a request is stored whole or not at all.
"""
from __future__ import annotations

import peewee

from store import customer_intake
from store.db import database, is_sqlite
from store.group_commit import GroupCommitter
from store.models import BaseModel, Project, utcnow

# Rows per INSERT statement: far below SQLite's 32,766 bound variables (7 columns a row).
INSERT_CHUNK = 500


class TrackedEvent(BaseModel):
    id = peewee.BigAutoField()
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE")
    event = peewee.CharField(max_length=200)
    customer_id = peewee.CharField(max_length=200, null=True)
    customer_email = peewee.CharField(max_length=254, null=True)  # lower-cased
    properties = peewee.TextField(default="{}")  # JSON object
    occurred_at = peewee.DateTimeField()  # the client's `timestamp`, else the time received
    received_at = peewee.DateTimeField(default=utcnow)

    class Meta:
        table_name = "tracked_events"
        # One index only: a second one (per customer) made each SQLite insert 4-5x dearer here,
        # since its rows land on random pages. Add it with the first reader that needs it.
        indexes = ((("project", "occurred_at"), False),)


COLUMNS = ("project_id", "event", "customer_id", "customer_email", "properties", "occurred_at", "received_at")
_SQL_CACHE: dict[tuple[int, str], str] = {}


def _insert_sql(rows: int) -> str:
    """One multi-row INSERT for `rows` rows, built once per size (building SQL through the ORM
    costs about as much as the insert itself; LIBRARY-NOTES)."""
    mark = "?" if is_sqlite() else "%s"
    sql = _SQL_CACHE.get((rows, mark))
    if sql is None:
        one = "(" + ", ".join([mark] * len(COLUMNS)) + ")"
        sql = (f'INSERT INTO "{TrackedEvent._meta.table_name}" ({", ".join(COLUMNS)}) VALUES '
               + ", ".join([one] * rows))
        _SQL_CACHE[(rows, mark)] = sql
    return sql


def rows_for(project_id: str, events: list[dict]) -> list[tuple]:
    """Validated events as insert rows. Timestamps are written as peewee writes them (SQLite:
    ISO text with a space; PostgreSQL: the driver's own datetime adaptation)."""
    now = utcnow()
    as_text = is_sqlite()
    rows = []
    for item in events:
        occurred = item.get("timestamp") or now
        email = item.get("customer_email")
        rows.append((project_id, item["event"], item.get("customer_id"), email.lower() if email else None,
                     item["properties_json"], occurred.isoformat(" ") if as_text else occurred,
                     now.isoformat(" ") if as_text else now))
    return rows


def write_batch(requests: list[list[tuple]]) -> list[int]:
    """Insert every request's rows (tuples in `COLUMNS` order); runs inside the committer's
    transaction. Returns the number of rows stored for each request."""
    rows = [row for request in requests for row in request]
    db = database.obj
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        db.execute_sql(_insert_sql(len(chunk)), [value for row in chunk for value in row])
    customer_intake.add_tracked(rows)  # the daily counts the risk score reads, in the same transaction
    return [len(request) for request in requests]


def make_writer() -> GroupCommitter:
    return GroupCommitter("tracked-events", write_batch, max_batch=200, window=0.002)


def count_events(project_id: str) -> int:
    return TrackedEvent.select().where(TrackedEvent.project == project_id).count()
