"""Churn events: queries, and the state transitions the project actor applies.

Every transition is also guarded in the database (a conditional UPDATE, a partial unique index
on open events per customer), so that correctness never rests on one process's actor.
"""
from __future__ import annotations

import datetime as dt
import re

import peewee

from store import customers
from store.errors import conflict, not_found
from store.db import database, is_sqlite, transaction
from store.models import OPEN_STATUSES, ChurnEvent, Project, utcnow
from store.projects import project_settings
from store.serialize import dumps, iso, loads_object

SORT_FIELDS = ("created_at", "updated_at", "churned_at", "recovered_at", "mrr_cents", "customer_email", "status")
# Fields a new churn for a customer with an open event may change on that event.
UPDATABLE_ON_REPEAT = ("customer_name", "customer_id", "customer_email", "plan", "mrr_cents", "currency",
                       "cancel_reason", "cancel_reason_detail")


def lost_cutoff(lost_after_days: int, now: dt.datetime | None = None) -> dt.datetime:
    return (now or utcnow()) - dt.timedelta(days=lost_after_days)


def effective_status(event: ChurnEvent, cutoff: dt.datetime) -> str:
    """`lost` is applied by a periodic sweep and also on read, so nobody sees a stale `new`."""
    if event.status in OPEN_STATUSES and event.churned_at < cutoff:
        return "lost"
    return event.status


def churn_json(event: ChurnEvent, cutoff: dt.datetime) -> dict:
    return {
        "id": event.id,
        "customer_email": event.customer_email,
        "customer_name": event.customer_name,
        "customer_id": event.customer_id,
        "plan": event.plan,
        "mrr_cents": event.mrr_cents,
        "currency": event.currency,
        "cancel_reason": event.cancel_reason,
        "cancel_reason_detail": event.cancel_reason_detail,
        "source": event.source,
        "status": effective_status(event, cutoff),
        "churned_at": iso(event.churned_at),
        "recovered_at": iso(event.recovered_at),
        "recovered_mrr_cents": event.recovered_mrr_cents,
        "recovered_by_variant_id": event.recovered_by_variant_id,
        "saved": bool(event.saved),
        "metadata": loads_object(event.metadata),
        "created_at": iso(event.created_at),
        "updated_at": iso(event.updated_at),
    }


def cutoff_for(project_id: str | Project) -> dt.datetime:
    """Open events that churned before this instant read as `lost` (a Project row saves a query)."""
    project = project_id if isinstance(project_id, Project) else Project.get_by_id(project_id)
    return lost_cutoff(int(project_settings(project)["lost_after_days"]))


def event_json(project_id: str, event: ChurnEvent, cutoff: dt.datetime | None = None) -> dict:
    return churn_json(event, cutoff or cutoff_for(project_id))


def get_event(project_id: str, event_id: str) -> ChurnEvent:
    event = ChurnEvent.get_or_none((ChurnEvent.id == event_id) & (ChurnEvent.project == project_id))
    if event is None:
        raise not_found("Churn event")
    return event


def find_open_event(project_id: str, customer_email: str | None, customer_id: str | None) -> ChurnEvent | None:
    """The customer's open event (by email or by customer id), the newest if both match one."""
    # One query per key, each served by its own index: an OR of the two (or an ORDER BY) makes
    # SQLite walk every open event of the project instead.
    rows = []
    for column, value in (("customer_email", customer_email and customer_email.lower()),
                          ("customer_id", customer_id)):
        if value:
            rows.extend(ChurnEvent.raw(_open_event_sql(column), project_id, value, *OPEN_STATUSES))
    return max(rows, key=lambda event: (event.created_at, event.id)) if rows else None


# The SQL of the two statements every create runs, built once per database by peewee itself:
# building it costs more CPU than running it (LIBRARY-NOTES).
_SQL: dict = {}


_OPEN_EVENT_INDEX = {"customer_email": "churn_events_project_id_customer_email_id",
                     "customer_id": "churn_events_project_id_customer_id"}


def _open_event_sql(column: str) -> str:
    key = (id(database.obj), "open", column)
    if key not in _SQL:
        query = ChurnEvent.select().where((ChurnEvent.project == "") & (getattr(ChurnEvent, column) == "")
                                          & ChurnEvent.status.in_(OPEN_STATUSES))
        sql = query.sql()[0]
        if is_sqlite():
            # Without fresh statistics SQLite may pick the (project, status) analytics index and
            # walk every open event of the project: 1.3 ms instead of 5 us at 10,000 events.
            index = _OPEN_EVENT_INDEX[column]
            sql = sql.replace('FROM "churn_events" AS "t1"', f'FROM "churn_events" AS "t1" INDEXED BY "{index}"')
        _SQL[key] = sql
    return _SQL[key]


def _insert_event(values: dict) -> ChurnEvent:
    """`ChurnEvent.create(**values)` with the INSERT statement built once."""
    event = ChurnEvent(**values)  # fills the defaults (id included)
    key = (id(database.obj), "insert")
    if key not in _SQL:
        fields = ChurnEvent._meta.sorted_fields
        sql = ChurnEvent.insert({field: None for field in fields}).sql()[0]
        by_column = {field.column_name: field for field in fields}
        order = [by_column[name] for name in re.findall(r'"(\w+)"', sql.split("VALUES")[0])[1:]]
        _SQL[key] = (sql, order)
    sql, order = _SQL[key]
    database.obj.execute_sql(sql, [field.db_value(event.__data__.get(field.name)) for field in order])
    event._dirty.clear()
    return event


def _open_elsewhere(project_id: str, field_name: str, value: str, event_id: str) -> bool:
    field = getattr(ChurnEvent, field_name)
    return (ChurnEvent.select().where((ChurnEvent.project == project_id) & (field == value)
                                      & ChurnEvent.status.in_(OPEN_STATUSES) & (ChurnEvent.id != event_id))
            .exists())


def record_churn(project_id: str, fields: dict, keep_identity: bool = False) -> tuple[ChurnEvent, bool]:
    """Create a churn event, or update the customer's open one. Returns (event, created).
    `keep_identity`: an open event's email and customer id are never changed (the cancel
    flow's answers, which anyone holding the public key can send)."""
    if fields.get("customer_email"):
        fields = {**fields, "customer_email": fields["customer_email"].lower()}
    if fields.get("customer_id") == "":
        # No id, as null: find_open_event ignores an empty id, so storing "" would let the
        # one-open-event-per-customer_id index refuse the insert (a 500 found by schemathesis).
        fields = {**fields, "customer_id": None}
    for attempt in range(3):
        try:
            with transaction():
                existing = find_open_event(project_id, fields.get("customer_email"), fields.get("customer_id"))
                if existing is None:
                    now = utcnow()
                    values = dict(fields)
                    values["metadata"] = dumps(values.get("metadata") or {})
                    values.setdefault("churned_at", now)
                    event = _insert_event({"project": project_id, "created_at": now, "updated_at": now, **values})
                    customers.note_churn_event(event, created=True)
                    return event, True
                changes = {k: v for k, v in fields.items() if k in UPDATABLE_ON_REPEAT and v is not None
                           and not (keep_identity and k in ("customer_email", "customer_id"))}
                for name in ("customer_email", "customer_id"):
                    # The email matched one open event and the id another: keep each where it is
                    # rather than break the one-open-event index (a 500 found by schemathesis).
                    if name in changes and changes[name] != getattr(existing, name) and _open_elsewhere(
                            project_id, name, changes[name], existing.id):
                        del changes[name]
                if fields.get("metadata"):
                    changes["metadata"] = dumps({**loads_object(existing.metadata), **fields["metadata"]})
                for key, value in changes.items():
                    setattr(existing, key, value)
                existing.updated_at = utcnow()
                existing.save()
                customers.note_churn_event(existing, created=False)
                return existing, False
        except peewee.IntegrityError:
            # Another process opened an event for this customer between our read and insert:
            # the partial unique index refused the second; read again and update that one.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def mark_recovered(project_id: str, event_id: str, recovered_mrr_cents: int | None,
                   recovered_at: dt.datetime | None = None, variant_id: str | None = None) -> ChurnEvent:
    """Move an event to `recovered` from any state but `recovered` and `saved` (else 409).
    `recovered_by_variant_id` is `variant_id` if given, else the last variant sent (SPEC 5)."""
    from store.variants import last_sent_variant_id  # store.variants builds on this module

    with transaction():
        event = get_event(project_id, event_id)
        amount = event.mrr_cents if recovered_mrr_cents is None else recovered_mrr_cents
        variant_id = variant_id or last_sent_variant_id(event_id)
        now = utcnow()
        changed = (ChurnEvent.update(status="recovered", recovered_at=recovered_at or now,
                                     recovered_mrr_cents=amount, updated_at=now,
                                     recovered_by_variant_id=variant_id)
                   .where((ChurnEvent.id == event_id) & ChurnEvent.status.not_in(("recovered", "saved")))
                   .execute())
        if changed != 1:
            raise conflict(f"Churn event is already {event.status}")
        event = ChurnEvent.get_by_id(event_id)
        customers.note_churn_event(event, created=False)
        return event


def update_cancel_reason(project_id: str, event_id: str, reason: str, detail: str | None,
                         detail_given: bool) -> ChurnEvent:
    with transaction():
        event = get_event(project_id, event_id)
        event.cancel_reason = reason
        if detail_given:
            event.cancel_reason_detail = detail
        event.updated_at = utcnow()
        event.save()
        return event


def list_events(project_id: str, filters: dict, sort: str, order: str, offset: int, limit: int,
                cutoff: dt.datetime | None = None) -> tuple[list[dict], int]:
    """A page of a project's events and the count of all matches.

    The SQL is written here rather than built by peewee: building a query costs more CPU than
    running it (LIBRARY-NOTES), and this is the busiest read. Only whitelisted column names are
    put in the text; every value is a parameter.
    """
    if sort not in SORT_FIELDS or order not in ("asc", "desc"):
        raise ValueError(f"unsupported sort {sort!r} {order!r}")
    cutoff = cutoff or cutoff_for(project_id)
    mark = database.obj.param
    stamp = ChurnEvent.created_at.db_value  # how peewee itself sends a datetime
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
    db = database.obj
    total = db.execute_sql(f'SELECT COUNT(*) FROM "churn_events" WHERE {condition}', params).fetchone()[0]
    if total <= offset:
        return [], total
    direction = "ASC" if order == "asc" else "DESC"
    # A nullable column (recovered_at) puts its NULLs last either way; otherwise a plain ORDER BY
    # lets the (project, column, id) index serve the page without sorting.
    nulls = " NULLS LAST" if getattr(ChurnEvent, sort).null else ""
    cursor = db.execute_sql(
        f'SELECT {_COLUMNS} FROM "churn_events" WHERE {condition} '
        f'ORDER BY "{sort}" {direction}{nulls}, "id" {direction} LIMIT {mark} OFFSET {mark}',
        params + [limit, offset])
    names = [column[0] for column in cursor.description]
    return [row_json(dict(zip(names, row)), cutoff) for row in cursor.fetchall()], total


_COLUMNS = ", ".join(f'"{name}"' for name in (
    "id", "customer_email", "customer_name", "customer_id", "plan", "mrr_cents", "currency", "cancel_reason",
    "cancel_reason_detail", "source", "status", "churned_at", "recovered_at", "recovered_mrr_cents",
    "recovered_by_variant_id", "saved", "metadata", "created_at", "updated_at"))


def _timestamp(value) -> dt.datetime | None:
    """A timestamp column as the driver returns it (text on SQLite) -> naive UTC datetime."""
    if value is None or isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(value)


def row_json(row: dict, cutoff: dt.datetime) -> dict:
    """`churn_json` for a plain database row (column name -> value)."""
    churned_at = _timestamp(row["churned_at"])
    status = row["status"]
    if status in OPEN_STATUSES and churned_at is not None and churned_at < cutoff:
        status = "lost"
    return {
        "id": row["id"],
        "customer_email": row["customer_email"],
        "customer_name": row["customer_name"],
        "customer_id": row["customer_id"],
        "plan": row["plan"],
        "mrr_cents": row["mrr_cents"],
        "currency": row["currency"],
        "cancel_reason": row["cancel_reason"],
        "cancel_reason_detail": row["cancel_reason_detail"],
        "source": row["source"],
        "status": status,
        "churned_at": iso(churned_at),
        "recovered_at": iso(_timestamp(row["recovered_at"])),
        "recovered_mrr_cents": row["recovered_mrr_cents"],
        "recovered_by_variant_id": row["recovered_by_variant_id"],
        "saved": bool(row["saved"]),
        "metadata": {} if row["metadata"] == "{}" else loads_object(row["metadata"]),
        "created_at": iso(_timestamp(row["created_at"])),
        "updated_at": iso(_timestamp(row["updated_at"])),
    }


def sweep_lost(now: dt.datetime | None = None) -> int:
    """Mark open events past their project's `lost_after_days` as `lost` (guarded UPDATE)."""
    total = 0
    for project in Project.select(Project.id, Project.settings):
        cutoff = lost_cutoff(int(project_settings(project)["lost_after_days"]), now)
        with transaction():
            total += (ChurnEvent.update(status="lost", updated_at=utcnow())
                      .where((ChurnEvent.project == project.id) & ChurnEvent.status.in_(OPEN_STATUSES)
                             & (ChurnEvent.churned_at < cutoff))
                      .execute())
    return total

