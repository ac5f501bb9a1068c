"""Customers: a project's people, keyed by `customer_id`, else the lower-cased email.

Two tables:
- `customers`: one row per (project, key) with what the list shows (status, money, first and
  last seen, the latest risk score and its reasons) and a change counter (`activity_seq`) that the
  scorer compares with `scored_seq` to know whom to score again (store/customer_scores.py).
- `customer_activity`: daily counts per (project, key, day, kind, name). `kind` is `event`
  (a tracked event, `name` its event name), `churn`, `email`, `recovery` or `billing`. The score
  and the timeline read these counts, never the tracked events themselves.

Tracked events feed both tables in the group commit of `/track` (store/customer_intake.py).
Everything else calls `touch(...)` inside its own transaction.
"""
from __future__ import annotations

import datetime as dt
from typing import NamedTuple

import peewee

from store.db import database
from store.raw_sql import prepared
from store.models import BaseModel, Project, utcnow

KINDS = ("event", "churn", "email", "recovery", "billing")
STATUSES = ("active", "at_risk", "churned", "recovered")
LEVELS = ("low", "medium", "high")


def _default(value: str) -> list:
    return [peewee.SQL(f"DEFAULT {value}")]  # also for raw inserts (the /track path)


class Customer(BaseModel):
    id = peewee.BigAutoField()
    # No index of its own: (project, key) and the list's indexes start with the project.
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    key = peewee.CharField(max_length=254)
    customer_id = peewee.CharField(max_length=200, null=True)
    customer_email = peewee.CharField(max_length=254, null=True)
    name = peewee.CharField(max_length=200, null=True)
    status = peewee.CharField(max_length=16, default="active", constraints=_default("'active'"))
    churn_state = peewee.CharField(max_length=16, null=True)  # churned | recovered | None
    churn_count = peewee.IntegerField(default=0, constraints=_default("0"))
    open_recovery = peewee.BooleanField(default=False, constraints=_default("FALSE"))
    mrr_cents = peewee.BigIntegerField(default=0, constraints=_default("0"))
    currency = peewee.CharField(max_length=3, default="USD", constraints=_default("'USD'"))
    first_seen_at = peewee.DateTimeField()
    last_seen_at = peewee.DateTimeField()
    last_event_at = peewee.DateTimeField(null=True)  # the last tracked event
    events_last_14d = peewee.IntegerField(default=0, constraints=_default("0"))
    events_prior_28d = peewee.IntegerField(default=0, constraints=_default("0"))
    risk_score = peewee.IntegerField(default=0, constraints=_default("0"))
    risk_level = peewee.CharField(max_length=8, default="low", constraints=_default("'low'"))
    risk_reasons = peewee.TextField(default="[]", constraints=_default("'[]'"))  # JSON list
    activity_seq = peewee.BigIntegerField(default=1, constraints=_default("1"))
    scored_seq = peewee.BigIntegerField(default=0, constraints=_default("0"))
    scored_on = peewee.DateField(null=True)  # the day the windows were last computed for

    class Meta:
        table_name = "customers"
        indexes = (
            (("project", "key"), True),
            # Every sort and filter of the list is read in order off an index: without them, a
            # project of 20,000 customers took 150-250 ms to sort by last seen or filter by level
            # on a busy machine. They make a new customer's first event on /track dearer, not the
            # events after it (docs/BENCHMARKS.md).
            (("project", "risk_score", "id"), False),
            (("project", "mrr_cents", "id"), False),
            (("project", "last_seen_at", "id"), False),
            (("project", "risk_level", "risk_score", "id"), False),
            (("project", "status", "risk_score", "id"), False),
            (("project", "customer_email"), False),
        )


class CustomerActivity(BaseModel):
    # No index of its own: the primary key starts with the project.
    project = peewee.ForeignKeyField(Project, on_delete="CASCADE", index=False)
    customer_key = peewee.CharField(max_length=254)
    day = peewee.DateField()
    kind = peewee.CharField(max_length=16)
    name = peewee.CharField(max_length=200, default="")
    count = peewee.IntegerField(default=0)

    class Meta:
        table_name = "customer_activity"
        primary_key = peewee.CompositeKey("project", "customer_key", "day", "kind", "name")


def key_of(customer_id: str | None, customer_email: str | None) -> str | None:
    if customer_id:
        return customer_id
    return customer_email.lower() if customer_email else None


# --- Everything else: churn events, emails, payment recoveries, billing actions.

def touch(project_id: str, *, customer_id: str | None = None, customer_email: str | None = None,
          kind: str | None = None, name: str = "", at: dt.datetime | None = None,
          customer_name: str | None = None, mrr_cents: int | None = None, currency: str | None = None,
          churn_state: str | None = None, churned: bool = False, open_recovery: bool | None = None) -> str | None:
    """Note something that happened to a customer; call it inside the caller's transaction.

    Creates the customer if new, adds one to the day's `kind` count (`kind` None: no count, e.g.
    a recovery of a churn event changes only `churn_state`), and sets what is given:
    `customer_name`, `mrr_cents`/`currency`, `churn_state` ("churned" or "recovered"),
    `churned=True` (one more churn for the "earlier churn" signal), `open_recovery` (True while
    a failed payment is being recovered, False once it is settled). The customer is scored again
    on the next read or housekeeping run. Returns the customer's key (None without id or email).

    Without a `customer_id`, an existing customer with that email is used, so a churn event that
    carries only the email lands on the customer the tracked events (keyed by id) created.
    """
    email = customer_email.lower() if customer_email else None
    key = key_of(customer_id, email)
    if key is None:
        return None
    at = at or utcnow()
    # Every churn, email and recovery comes through here inside its writer's transaction, so its
    # statements are built once (store/raw_sql.py): building them through peewee cost more than
    # running them, and a new churn paid it three to five times.
    customer = _by_key(project_id, key)
    if customer is None and not customer_id:
        customer = _looked_up(_select_by_email().execute(project=project_id, email=email).fetchone())
    if customer is None:
        # A new customer is written whole in one statement; one created meanwhile (the /track
        # path, another process) makes it insert nothing, and the update below applies instead.
        given = {name: value for name, value in (
            ("customer_id", customer_id), ("customer_email", email), ("name", customer_name),
            ("mrr_cents", mrr_cents), ("currency", currency), ("churn_state", churn_state),
            ("open_recovery", open_recovery)) if value is not None}
        if _insert_customer(tuple(sorted(given)), churned).execute(project=project_id, customer_key=key, at=at,
                                                                    **given).rowcount:
            if kind is not None:
                _count_activity(project_id, key, at.date(), kind, name or "")
            return key
        customer = _by_key(project_id, key)
    changes: dict[str, object] = {}
    if at > customer.last_seen_at:
        changes["last_seen_at"] = at
    if at < customer.first_seen_at:
        changes["first_seen_at"] = at
    for name, value in (("customer_id", customer_id), ("customer_email", email)):
        if value and not getattr(customer, name):
            changes[name] = value
    for name, value in (("name", customer_name), ("mrr_cents", mrr_cents), ("currency", currency),
                        ("churn_state", churn_state), ("open_recovery", open_recovery)):
        if value is not None:
            changes[name] = value
    _update(tuple(sorted(changes)), churned).execute(id=customer.id, **changes)
    if kind is not None:
        _count_activity(project_id, customer.key, at.date(), kind, name or "")
    return customer.key


_LOOKED_UP = (Customer.id, Customer.key, Customer.customer_id, Customer.customer_email, Customer.first_seen_at,
              Customer.last_seen_at)


class _Found(NamedTuple):
    """The columns of a customer `touch` reads (a tuple: a model instance cost more to make)."""

    id: int
    key: str
    customer_id: str | None
    customer_email: str | None
    first_seen_at: dt.datetime
    last_seen_at: dt.datetime


def _looked_up(row: tuple | None) -> _Found | None:
    if row is None:
        return None
    first, last = Customer.first_seen_at.python_value(row[4]), Customer.last_seen_at.python_value(row[5])
    return _Found(row[0], row[1], row[2], row[3], first, last)


def _by_key(project_id: str, key: str) -> _Found | None:
    return _looked_up(_select_by_key().execute(project=project_id, customer_key=key).fetchone())


def _select_by_key():
    return prepared(("customer-by-key",), lambda slot: Customer.select(*_LOOKED_UP).where(
        (Customer.project == slot("project")) & (Customer.key == slot("customer_key"))), customer_key=Customer.key)


def _select_by_email():
    return prepared(("customer-by-email",), lambda slot: Customer.select(*_LOOKED_UP).where(
        (Customer.project == slot("project")) & (Customer.customer_email == slot("email")))
        .order_by(Customer.id).limit(1), email=Customer.customer_email)


def _insert_customer(names: tuple[str, ...], churned: bool):
    """INSERT a new customer with `names` set (and one churn counted) unless its key exists."""
    def build(slot):
        values = {"project": slot("project"), "key": slot("customer_key"), "first_seen_at": slot("at"),
                  "last_seen_at": slot("at"), **{name: slot(name) for name in names}}
        if churned:
            values["churn_count"] = 1
        return Customer.insert(**values).on_conflict(conflict_target=[Customer.project, Customer.key],
                                                     action="NOTHING")
    return prepared(("customer-insert", names, churned), build, customer_key=Customer.key, at=Customer.first_seen_at,
                    **{name: getattr(Customer, name) for name in names})


def _update(names: tuple[str, ...], churned: bool):
    """UPDATE customers SET activity_seq + 1 [, churn_count + 1], <names> WHERE id: one statement
    per shape (which columns change), built on its first use."""
    def build(slot):
        changes = {Customer.activity_seq: Customer.activity_seq + 1}
        if churned:
            changes[Customer.churn_count] = Customer.churn_count + 1
        for name in names:
            changes[getattr(Customer, name)] = slot(name)
        return Customer.update(changes).where(Customer.id == slot("id"))
    return prepared(("customer-update", names, churned), build,
                    **{name: getattr(Customer, name) for name in names})


def _count_activity(project_id: str, key: str, day: dt.date, kind: str, name: str) -> None:
    statement = prepared(("customer-activity-count",), lambda slot: (
        CustomerActivity.insert(project=slot("project"), customer_key=slot("customer_key"), day=slot("day"), kind=slot("kind"),
                                name=slot("name"), count=1)
        .on_conflict(conflict_target=[CustomerActivity.project, CustomerActivity.customer_key, CustomerActivity.day,
                                      CustomerActivity.kind, CustomerActivity.name],
                     update={CustomerActivity.count: CustomerActivity.count + 1})),
        day=CustomerActivity.day)
    statement.execute(project=project_id, customer_key=key, day=day, kind=kind, name=name[:200])


def note_churn_event(event, created: bool) -> None:
    """A churn event was recorded or changed (store/churn_events.py calls this)."""
    state = "recovered" if event.status in ("recovered", "saved") else "churned"
    touch(event.project_id, customer_id=event.customer_id, customer_email=event.customer_email,
          kind="churn" if created else None, at=event.churned_at if created else utcnow(),
          customer_name=event.customer_name, mrr_cents=event.mrr_cents, currency=event.currency,
          churn_state=state, churned=created)


def backfill(batch: int = 5000) -> None:
    """Build both tables from the tracked events, churn events and sent emails already stored
    (the migration that adds them calls this once), and the failed-payment recoveries."""
    from store.customer_intake import add_tracked, flush_pending
    from store.models import ChurnEvent
    from store.payment_recoveries import PaymentRecovery
    from store.tracking import TrackedEvent
    from store.variants import Variant

    last_id = 0
    columns = (TrackedEvent.id, TrackedEvent.project, TrackedEvent.event, TrackedEvent.customer_id,
               TrackedEvent.customer_email, TrackedEvent.properties, TrackedEvent.occurred_at,
               TrackedEvent.received_at)
    while True:
        rows = list(TrackedEvent.select(*columns).where(TrackedEvent.id > last_id)
                    .order_by(TrackedEvent.id).limit(batch).tuples())
        if not rows:
            break
        last_id = rows[-1][0]
        add_tracked([row[1:] for row in rows])
    flush_pending()
    for event in ChurnEvent.select().order_by(ChurnEvent.created_at):
        note_churn_event(event, created=True)
    sent = (Variant.select(Variant.project, Variant.sent_at, ChurnEvent.customer_id, ChurnEvent.customer_email)
            .join(ChurnEvent, on=(Variant.churn_event == ChurnEvent.id))
            .where(Variant.status == "sent").tuples())
    for project_id, sent_at, customer_id, email in sent:
        touch(project_id, customer_id=customer_id, customer_email=email, kind="email", at=sent_at)
    opened = (PaymentRecovery.select(PaymentRecovery.project, PaymentRecovery.started_at, PaymentRecovery.customer_id,
                                     PaymentRecovery.customer_email, PaymentRecovery.status).tuples())
    for project_id, started_at, customer_id, email, status in opened:
        touch(project_id, customer_id=customer_id, customer_email=email, kind="recovery", at=started_at,
              open_recovery=True if status == "open" else None)
