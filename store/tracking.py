"""Tracked events (`POST /track`, docs/api-tracking.md): what a customer's backend reports users doing.

The highest-volume write of the server, so rows go through a `GroupCommitter`: the requests that
arrive within a few milliseconds share one transaction, and each is answered only after its rows
committed. A request's rows are one item of the batch, so a request is stored whole or not at all.
"""
from __future__ import annotations

import peewee

from store import customer_intake
from store.db import database
from store.group_commit import GroupCommitter
from store.models import BaseModel, Project, utcnow
from store.raw_sql import insert_params, insert_sql

# Rows per INSERT statement: far below SQLite's 32,766 bound variables (7 columns a row).
INSERT_CHUNK = 500


class TrackedEvent(BaseModel):
    id = peewee.BigAutoField()
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
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


FIELDS = ("project", "event", "customer_id", "customer_email", "properties", "occurred_at", "received_at")


def rows_for(project_id: str, events: list[dict]) -> list[tuple]:
    """Validated events as insert rows (values in `FIELDS` order)."""
    now = utcnow()
    rows = []
    for item in events:
        email = item.get("customer_email")
        rows.append((project_id, item["event"], item.get("customer_id"), email.lower() if email else None,
                     item["properties_json"], item.get("timestamp") or now, now))
    return rows


def write_batch(requests: list[list[tuple]]) -> list[int]:
    """Insert every request's rows (tuples in `FIELDS` order); runs inside the committer's
    transaction. Returns the number of rows stored for each request."""
    rows = [row for request in requests for row in request]
    db = database.obj
    for start in range(0, len(rows), INSERT_CHUNK):
        chunk = rows[start:start + INSERT_CHUNK]
        # One multi-row INSERT per chunk, its SQL built once per size (store/raw_sql.py).
        db.execute_sql(insert_sql(TrackedEvent, FIELDS, len(chunk)), insert_params(TrackedEvent, FIELDS, chunk))
    customer_intake.add_tracked(rows)  # the daily counts the risk score reads, in the same transaction
    return [len(request) for request in requests]


def make_writer() -> GroupCommitter:
    return GroupCommitter("tracked-events", write_batch, max_batch=200, window=0.002)
