"""Churn events: where one changes state. Every transition the project actor (or a webhook, the
sweep, a script) applies is a function here, and each is one conditional UPDATE of only the
columns it changes, guarded by the state it starts from:

    open_event / refresh_open_event   (record_churn)  -> new
    new -> variants_ready                           mark_variants_ready
    new, variants_ready -> contacted                mark_contacted
    open -> saved                                   mark_saved
    any but recovered, saved -> recovered           mark_recovered
    open, churned before the cutoff -> lost         sweep_lost
    the reason, a missing email, the provider time  change_cancel_reason, fill_missing_email,
                                                    note_provider_time (status untouched)

A transition that sets a column the analytics count (status, amounts, currency, reason, source,
times; `store.rollups.ROLLUP_COLUMNS`) moves the event in the analytics rollups in the same
transaction (`store/rollups.py`): the row is read under its lock first, so the counts of what it
was come out and those of what it is go in. A new writer of churn events must do the same
(docs/analytics.md, "Rollups").

A transition that changed a row announces it to the project's outbound webhook endpoints
(`store.outbound.record_event`, in the same transaction): `churn_event.created`, `.recovered`,
`.saved`, `.lost`. One that matched no row announces nothing.

No transition reads a row and writes it back whole: with several server processes on one
PostgreSQL, a row read before another process's commit and saved after it would undo that
commit. A partial unique index keeps one open event per customer (docs/architecture.md).

The event's automatic win-back campaign (its `campaign_*` columns) has its own guarded state
machine in store/campaigns.py; the transitions here call into it in the same transaction: a
recorded churn joins the campaign, `recovered` and `saved` end it.
"""
from __future__ import annotations

import datetime as dt

import peewee

from store import campaigns, customers, rollups
from store.churn_event_reads import churn_json, cutoff_for, lost_cutoff
from store.db import database, is_sqlite, transaction
from store.errors import conflict, not_found
from store.models import OPEN_STATUSES, ChurnEvent, Project, utcnow
from store.outbound import record_event, subscribed_endpoints
from store.projects import project_settings
from store.raw_sql import cached_sql, insert_params, insert_sql, prepared
from store.serialize import dumps, loads_object

# Fields a new churn for a customer with an open event may change on that event.
UPDATABLE_ON_REPEAT = ("customer_name", "customer_id", "customer_email", "plan", "mrr_cents", "currency",
                       "cancel_reason", "cancel_reason_detail")
CLOSED_STATUSES = ("recovered", "saved")  # final: no transition leaves them


def get_event(project_id: str, event_id: str) -> ChurnEvent:
    event = ChurnEvent.get_or_none((ChurnEvent.id == event_id) & (ChurnEvent.project == project_id))
    if event is None:
        raise not_found("Churn event")
    return event


def _is_open():
    return ChurnEvent.status.in_(OPEN_STATUSES)


# Where a transition may start from, by name; `slot(name)` is a value given with the call.
GUARDS = {
    "open": lambda slot: _is_open(),
    "open, metadata unchanged": lambda slot: _is_open() & (ChurnEvent.metadata == slot("metadata_read")),
    "new": lambda slot: ChurnEvent.status == "new",
    "new or variants_ready": lambda slot: ChurnEvent.status.in_(("new", "variants_ready")),
    "not closed, in project": lambda slot: ((ChurnEvent.project == slot("project"))
                                            & ChurnEvent.status.not_in(CLOSED_STATUSES)),
    "in project": lambda slot: ChurnEvent.project == slot("project"),
    "no email yet": lambda slot: ChurnEvent.customer_email.is_null(),
}
_SLOT_FIELDS = {"project": ChurnEvent.project, "metadata_read": ChurnEvent.metadata, "id": ChurnEvent.id}


def _announce(event_type: str, event: ChurnEvent) -> None:
    """Queue `event_type` for the event's project's endpoints; the view is built only if one listens."""
    record_event(event.project_id, event_type, lambda: churn_json(event, cutoff_for(event.project_id)))


def _transition(event_id: str, guard: str, given: dict | None = None, **changes) -> ChurnEvent | None:
    """UPDATE the event's `changes` (and `updated_at`) where the guard named `guard` still holds
    (`given`: its slot values); the row as it is afterwards, or None when the guard did not match
    (the event moved on, or is not there). A change may be a column expression (the same one for
    a given column every time); the statement is built once per guard and set of columns."""
    changes.setdefault("updated_at", utcnow())
    computed = {name for name, value in changes.items() if isinstance(value, peewee.Node)}

    def build(slot):
        values = {name: value if name in computed else slot("set_" + name) for name, value in changes.items()}
        return (ChurnEvent.update(**values).where((ChurnEvent.id == slot("id")) & GUARDS[guard](slot))
                .returning(ChurnEvent))

    binders = {**_SLOT_FIELDS, **{"set_" + name: getattr(ChurnEvent, name) for name in changes}}
    statement = prepared(("churn-transition", guard, tuple(sorted(changes)), tuple(sorted(computed))),
                         build, **binders)
    values = {"set_" + name: value for name, value in changes.items() if name not in computed}
    if rollups.ROLLUP_COLUMNS.isdisjoint(changes):
        rows = statement.rows(ChurnEvent, id=event_id, **values, **(given or {}))
        return rows[0] if rows else None

    def change_and_roll_up():
        # The analytics rollups move in the same transaction: the counts of the row as it was
        # (read under its lock) out, those of the row as it is in (store/rollups.py).
        before = rollups.lock_facts(event_id)
        rows = statement.rows(ChurnEvent, id=event_id, **values, **(given or {}))
        if not rows:
            return None
        rollups.event_changed(before, rows[0])
        return rows[0]

    return rollups.in_transaction(change_and_roll_up)


# --- recording a churn ------------------------------------------------------------------------

_OPEN_EVENT_INDEX = {"customer_email": "churn_events_project_id_customer_email_id",
                     "customer_id": "churn_events_project_id_customer_id"}


def _open_event_sql(column: str) -> str:
    def build() -> str:
        query = ChurnEvent.select().where((ChurnEvent.project == "") & (getattr(ChurnEvent, column) == "")
                                          & _is_open())
        sql = query.sql()[0]
        if is_sqlite():
            # Without fresh statistics SQLite may pick the (project, status) analytics index and
            # walk every open event of the project: 1.3 ms instead of 5 us at 10,000 events.
            index = _OPEN_EVENT_INDEX[column]
            sql = sql.replace('FROM "churn_events" AS "t1"', f'FROM "churn_events" AS "t1" INDEXED BY "{index}"')
        return sql

    return cached_sql(("open-event", column), build)


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


_INSERT_FIELDS = tuple(field.name for field in ChurnEvent._meta.sorted_fields)


def open_event(project_id: str, fields: dict) -> ChurnEvent:
    """Insert a new open event (`status` new unless `fields` says otherwise)."""
    now = utcnow()
    values = {"churned_at": now, **fields, "metadata": dumps(fields.get("metadata") or {})}
    event = ChurnEvent(project=project_id, created_at=now, updated_at=now, **values)  # fills defaults
    data = event.__data__
    database.obj.execute_sql(insert_sql(ChurnEvent, _INSERT_FIELDS),
                             insert_params(ChurnEvent, _INSERT_FIELDS, [[data.get(n) for n in _INSERT_FIELDS]]))
    event._dirty.clear()
    rollups.event_added(event)  # the caller's transaction (record_churn)
    return event


def _open_elsewhere(project_id: str, field_name: str, value: str, event_id: str) -> bool:
    field = getattr(ChurnEvent, field_name)
    return (ChurnEvent.select().where((ChurnEvent.project == project_id) & (field == value)
                                      & _is_open() & (ChurnEvent.id != event_id))
            .exists())


def refresh_open_event(project_id: str, existing: ChurnEvent, fields: dict,
                       keep_identity: bool = False) -> ChurnEvent | None:
    """A new churn for a customer with an open event: update that event's customer and churn
    details, while it is still open (None: it closed meanwhile, or its metadata changed).
    `keep_identity`: the event's email and customer id are left as they are."""
    changes = {k: v for k, v in fields.items() if k in UPDATABLE_ON_REPEAT and v is not None
               and not (keep_identity and k in ("customer_email", "customer_id"))}
    for name in ("customer_email", "customer_id"):
        # The email matched one open event and the id another: keep each where it is rather
        # than break the one-open-event index (a 500 found by schemathesis).
        if name in changes and changes[name] != getattr(existing, name) and _open_elsewhere(
                project_id, name, changes[name], existing.id):
            del changes[name]
    if fields.get("metadata"):
        # Merged key by key into what was read, so only if nobody changed it since.
        changes["metadata"] = dumps({**loads_object(existing.metadata), **fields["metadata"]})
        return _transition(existing.id, "open, metadata unchanged", {"metadata_read": existing.metadata},
                           **changes)
    return _transition(existing.id, "open", **changes)


def record_churn(project_id: str, fields: dict, keep_identity: bool = False) -> tuple[ChurnEvent, bool]:
    """Open a churn event, or refresh the customer's open one. Returns (event, created).
    `keep_identity`: an open event's email and customer id are never changed (the cancel flow's
    answers, which anyone holding the public key can send)."""
    if fields.get("customer_email"):
        fields = {**fields, "customer_email": fields["customer_email"].lower()}
    if fields.get("customer_id") == "":
        # No id, as null: find_open_event ignores an empty id, so storing "" would let the
        # one-open-event-per-customer_id index refuse the insert (a 500 found by schemathesis).
        fields = {**fields, "customer_id": None}
    for attempt in range(5):
        try:
            with transaction():
                existing = find_open_event(project_id, fields.get("customer_email"), fields.get("customer_id"))
                if existing is None:
                    event = open_event(project_id, fields)
                    campaigns.join(project_id, event, event.created_at)
                    customers.note_churn_event(event, created=True)
                    _announce("churn_event.created", event)
                    return event, True
                refreshed = refresh_open_event(project_id, existing, fields, keep_identity)
                if refreshed is not None:
                    campaigns.join(project_id, refreshed)  # campaigns switched on after it opened
                    customers.note_churn_event(refreshed, created=False)
                    return refreshed, False
                # The open event closed (or changed) since it was read, in another process: look again.
        except peewee.IntegrityError:
            # Another process opened an event for this customer between our read and insert:
            # the partial unique index refused the second; read again and update that one.
            if attempt == 4:
                raise
    raise conflict("The customer's churn event kept changing; try again")


# --- moving an event along --------------------------------------------------------------------

def mark_recovered(project_id: str, event_id: str, recovered_mrr_cents: int | None,
                   recovered_at: dt.datetime | None = None, variant_id: str | None = None) -> ChurnEvent:
    """Move an event to `recovered` from any state but `recovered` and `saved` (else 409).
    The amount defaults to the event's `mrr_cents`; `recovered_by_variant_id` is `variant_id` if
    given, else the last variant sent (docs/resources.md)."""
    from store.variants import last_sent_variant_id  # store.variants builds on this module

    now = utcnow()
    with transaction():
        event = _transition(
            event_id, "not closed, in project", {"project": project_id},
            status="recovered", recovered_at=recovered_at or now, updated_at=now,
            recovered_mrr_cents=ChurnEvent.mrr_cents if recovered_mrr_cents is None else recovered_mrr_cents,
            recovered_by_variant_id=variant_id or last_sent_variant_id(event_id))
        if event is None:
            raise conflict(f"Churn event is already {get_event(project_id, event_id).status}")
        rollups.recovery_credited(project_id, event_id, event.recovered_by_variant_id)
        campaigns.end(event_id, "recovered", event)
        customers.note_churn_event(event, created=False)
        _announce("churn_event.recovered", event)
        return event


def mark_saved(event_id: str) -> ChurnEvent:
    """The customer accepted an offer in the cancel flow: `saved`, from an open status only; its
    campaign ends."""
    with transaction():
        event = _transition(event_id, "open", status="saved", saved=True)
        if event is None:
            raise conflict("The customer's churn event is no longer open")
        campaigns.end(event_id, "saved", event)
        customers.note_churn_event(event, created=False)
        _announce("churn_event.saved", event)
        return event


def mark_variants_ready(event_id: str, now: dt.datetime | None = None) -> None:
    """Variants were written: `new` becomes `variants_ready` (any other status stays)."""
    _transition(event_id, "new", status="variants_ready", updated_at=now or utcnow())


def mark_contacted(event_id: str, now: dt.datetime | None = None) -> None:
    """An email went out: `new` and `variants_ready` become `contacted` (others stay)."""
    _transition(event_id, "new or variants_ready", status="contacted",
                updated_at=now or utcnow())


def change_cancel_reason(project_id: str, event_id: str, reason: str, detail: str | None,
                         detail_given: bool) -> ChurnEvent:
    """Set the cancel reason (and the detail, when given), in any status; status untouched."""
    changes = {"cancel_reason": reason}
    if detail_given:
        changes["cancel_reason_detail"] = detail
    with transaction():
        event = _transition(event_id, "in project", {"project": project_id}, **changes)
    if event is None:
        raise not_found("Churn event")
    return event


def fill_missing_email(event_id: str, email: str) -> bool:
    """An event recorded before the customer's email was known gets it (only if still empty)."""
    return _transition(event_id, "no email yet", customer_email=email) is not None


def note_provider_time(event_id: str, when: dt.datetime) -> None:
    """Remember the provider time of the newest webhook applied to the event (ordering rule,
    docs/webhooks.md); an older one never replaces a newer one. `updated_at` is left alone."""
    (ChurnEvent.update(source_event_at=when)
     .where((ChurnEvent.id == event_id)
            & (ChurnEvent.source_event_at.is_null() | (ChurnEvent.source_event_at < when)))
     .execute())


def sweep_lost(now: dt.datetime | None = None) -> int:
    """Mark open events past their project's `lost_after_days` as `lost` (guarded UPDATE). In a
    project with endpoints that want `churn_event.lost`, each event is moved by its own guarded
    transition (up to 1,000 a sweep), so exactly the events this sweep changed are announced."""
    total = 0
    for project in Project.select(Project.id, Project.settings):
        cutoff = lost_cutoff(int(project_settings(project)["lost_after_days"]), now)
        past_cutoff = (ChurnEvent.project == project.id) & _is_open() & (ChurnEvent.churned_at < cutoff)
        with transaction():
            rollups.serialize_project(project.id)  # before the UPDATE locks the events it moves
            if not subscribed_endpoints(project.id, "churn_event.lost"):
                # One UPDATE per open status, so the rollups know where each event came from.
                for status in OPEN_STATUSES:
                    moved = list(ChurnEvent.update(status="lost", updated_at=utcnow())
                                 .where(past_cutoff & (ChurnEvent.status == status))
                                 .returning(ChurnEvent.churned_at, ChurnEvent.currency, ChurnEvent.cancel_reason,
                                            ChurnEvent.source, ChurnEvent.mrr_cents).tuples().execute())
                    rollups.status_moved(project.id, moved, status, "lost")
                    total += len(moved)
                continue
            for (event_id,) in ChurnEvent.select(ChurnEvent.id).where(past_cutoff).limit(1000).tuples():
                lost = _transition(event_id, "open", status="lost")
                if lost is not None:
                    total += 1
                    record_event(project.id, "churn_event.lost", churn_json(lost, cutoff))
    return total
