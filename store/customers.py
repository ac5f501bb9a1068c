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

import peewee

from store.db import database
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
    customer = Customer.get_or_none((Customer.project == project_id) & (Customer.key == key))
    if customer is None and not customer_id:
        customer = (Customer.select().where((Customer.project == project_id) & (Customer.customer_email == email))
                    .order_by(Customer.id).first())
    if customer is None:
        try:
            with database.obj.atomic():
                customer = Customer.create(project=project_id, key=key, customer_id=customer_id, customer_email=email,
                                           first_seen_at=at, last_seen_at=at)
        except peewee.IntegrityError:  # created meanwhile by the /track path
            customer = Customer.get((Customer.project == project_id) & (Customer.key == key))
    changes: dict = {Customer.activity_seq: Customer.activity_seq + 1}
    if at > customer.last_seen_at:
        changes[Customer.last_seen_at] = at
    if at < customer.first_seen_at:
        changes[Customer.first_seen_at] = at
    for field, value in ((Customer.customer_id, customer_id), (Customer.customer_email, email)):
        if value and not getattr(customer, field.name):
            changes[field] = value
    for field, value in ((Customer.name, customer_name), (Customer.mrr_cents, mrr_cents),
                         (Customer.currency, currency), (Customer.churn_state, churn_state),
                         (Customer.open_recovery, open_recovery)):
        if value is not None:
            changes[field] = value
    if churned:
        changes[Customer.churn_count] = Customer.churn_count + 1
    Customer.update(changes).where(Customer.id == customer.id).execute()
    if kind is not None:
        _count_activity(project_id, customer.key, at.date(), kind, name or "")
    return customer.key


def _count_activity(project_id: str, key: str, day: dt.date, kind: str, name: str) -> None:
    (CustomerActivity.insert(project=project_id, customer_key=key, day=day, kind=kind, name=name[:200], count=1)
     .on_conflict(conflict_target=[CustomerActivity.project, CustomerActivity.customer_key, CustomerActivity.day,
                                   CustomerActivity.kind, CustomerActivity.name],
                  update={CustomerActivity.count: CustomerActivity.count + 1})
     .execute())


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
