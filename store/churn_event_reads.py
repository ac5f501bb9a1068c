"""Reading churn events: the API's view of one (`churn_json`), the `lost` cutoff, and the list.

State changes live in `store/churn_events.py`; nothing here writes.
"""
from __future__ import annotations

import datetime as dt

from store.db import database
from store.models import OPEN_STATUSES, ChurnEvent, Project, utcnow
from store.projects import project_settings
from store.raw_sql import bind_value
from store.serialize import iso, loads_object

SORT_FIELDS = ("created_at", "updated_at", "churned_at", "recovered_at", "mrr_cents", "customer_email", "status")
COLUMNS = ("id", "customer_email", "customer_name", "customer_id", "plan", "mrr_cents", "currency", "cancel_reason",
           "cancel_reason_detail", "source", "status", "churned_at", "recovered_at", "recovered_mrr_cents",
           "recovered_by_variant_id", "saved", "metadata", "created_at", "updated_at")
_SELECT_COLUMNS = ", ".join(f'"{name}"' for name in COLUMNS)


def lost_cutoff(lost_after_days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=lost_after_days)


def cutoff_for(project_id: str | Project) -> dt.datetime:
    """Open events that churned before this instant read as `lost` (a Project row saves a query)."""
    project = project_id if isinstance(project_id, Project) else Project.get_by_id(project_id)
    return lost_cutoff(int(project_settings(project)["lost_after_days"]))


def _timestamp(value) -> dt.datetime | None:
    """A timestamp as the driver returns it (text on SQLite for raw rows) -> naive UTC datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def churn_json(event: ChurnEvent | dict, cutoff: dt.datetime) -> dict:
    """The API's view of a churn event: a model row, or a plain row (column name -> value).

    `lost` is applied by a periodic sweep and also here, on read, so nobody sees a stale open
    status on an event past its project's `lost_after_days`.
    """
    row = event.__data__ if isinstance(event, ChurnEvent) else event
    churned_at = _timestamp(row.get("churned_at"))
    status = row.get("status")
    if status in OPEN_STATUSES and churned_at is not None and churned_at < cutoff:
        status = "lost"
    metadata = row.get("metadata")
    return {
        "id": row.get("id"),
        "customer_email": row.get("customer_email"),
        "customer_name": row.get("customer_name"),
        "customer_id": row.get("customer_id"),
        "plan": row.get("plan"),
        "mrr_cents": row.get("mrr_cents"),
        "currency": row.get("currency"),
        "cancel_reason": row.get("cancel_reason"),
        "cancel_reason_detail": row.get("cancel_reason_detail"),
        "source": row.get("source"),
        "status": status,
        "churned_at": iso(churned_at),
        "recovered_at": iso(row.get("recovered_at")),
        "recovered_mrr_cents": row.get("recovered_mrr_cents"),
        "recovered_by_variant_id": row.get("recovered_by_variant_id"),
        "saved": bool(row.get("saved")),
        "metadata": {} if metadata == "{}" else loads_object(metadata),
        "created_at": iso(row.get("created_at")),
        "updated_at": iso(row.get("updated_at")),
    }


def list_events(project_id: str, filters: dict, sort: str, order: str, offset: int, limit: int,
                cutoff: dt.datetime | None = None) -> tuple[list[dict], int]:
    """A page of a project's events and the count of all matches.

    The SQL is written here rather than built by peewee: building a query costs more CPU than
    running it, and this is the busiest read (docs/architecture.md, "Hot paths"). Only
    whitelisted column names are put in the text; every value is a parameter.
    """
    if sort not in SORT_FIELDS or order not in ("asc", "desc"):
        raise ValueError(f"unsupported sort {sort!r} {order!r}")
    cutoff = cutoff or cutoff_for(project_id)
    db = database.obj
    mark = db.param
    stamp = bind_value(ChurnEvent.created_at)
    where, params = [f'"project_id" = {mark}'], [project_id]
    status = filters.get("status")
    if status == "lost":
        where.append(f'("status" = {mark} OR ("status" IN ({mark}, {mark}, {mark}) AND "churned_at" < {mark}))')
        params += ["lost", *OPEN_STATUSES, stamp(cutoff)]
    elif status in OPEN_STATUSES:
        where.append(f'"status" = {mark} AND "churned_at" >= {mark}')
        params += [status, stamp(cutoff)]
    elif status:
        where.append(f'"status" = {mark}')
        params.append(status)
    for name in ("source", "cancel_reason", "customer_id"):
        if filters.get(name):
            where.append(f'"{name}" = {mark}')
            params.append(filters[name])
    if filters.get("customer_email"):
        where.append(f'"customer_email" = {mark}')
        params.append(filters["customer_email"].lower())
    if filters.get("created_after"):
        where.append(f'"created_at" >= {mark}')
        params.append(stamp(filters["created_after"]))
    if filters.get("created_before"):
        where.append(f'"created_at" < {mark}')
        params.append(stamp(filters["created_before"]))
    condition = " AND ".join(where)
    total = db.execute_sql(f'SELECT COUNT(*) FROM "churn_events" WHERE {condition}', params).fetchone()[0]
    if total <= offset:
        return [], total
    direction = "ASC" if order == "asc" else "DESC"
    # A nullable column (recovered_at) puts its NULLs last either way; otherwise a plain ORDER BY
    # lets the (project, column, id) index serve the page without sorting.
    nulls = " NULLS LAST" if getattr(ChurnEvent, sort).null else ""
    cursor = db.execute_sql(
        f'SELECT {_SELECT_COLUMNS} FROM "churn_events" WHERE {condition} '
        f'ORDER BY "{sort}" {direction}{nulls}, "id" {direction} LIMIT {mark} OFFSET {mark}',
        params + [limit, offset])
    return [churn_json(dict(zip(COLUMNS, row)), cutoff) for row in cursor.fetchall()], total
