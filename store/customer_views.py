"""Reading customers: the list, one customer with its timeline, and a customer's real use.

Every query reads the `customers` row or the daily counts of `customer_activity`; the list is
served from the (project, risk_score, id) / (project, mrr_cents, id) indexes.
"""
from __future__ import annotations

import datetime as dt
import json

from peewee import fn

from store.customers import Customer, CustomerActivity
from store.db import is_sqlite
from store.errors import not_found
from store.models import utcnow
from store.serialize import iso

SORT_FIELDS = ("risk_score", "last_seen_at", "mrr_cents")
TIMELINE_DAYS = 180


def customer_json(c: Customer) -> dict:
    return {
        "key": c.key,
        "customer_id": c.customer_id,
        "customer_email": c.customer_email,
        "name": c.name,
        "status": c.status,
        "mrr_cents": c.mrr_cents,
        "currency": c.currency,
        "first_seen_at": iso(c.first_seen_at),
        "last_seen_at": iso(c.last_seen_at),
        "events_last_14d": c.events_last_14d,
        "events_prior_28d": c.events_prior_28d,
        "risk": {"score": c.risk_score, "level": c.risk_level, "reasons": json.loads(c.risk_reasons or "[]")},
    }


def _prefix(column, text: str):
    """`column` starts with `text`. SQLite compares bytes, so a range (read off an index) is exact;
    PostgreSQL's collation may not order by bytes, so it asks `starts_with`."""
    if is_sqlite():
        return (column >= text) & (column < text + "\U0010ffff")
    return fn.starts_with(column, text)


def list_customers(project_id: str, filters: dict, sort: str, order: str, offset: int,
                   limit: int) -> tuple[list[dict], int]:
    where = Customer.project == project_id
    if filters.get("level"):
        where &= Customer.risk_level == filters["level"]
    if filters.get("status"):
        where &= Customer.status == filters["status"]
    if filters.get("q"):
        q = filters["q"]
        where &= _prefix(Customer.customer_email, q.lower()) | _prefix(Customer.key, q)
    column = getattr(Customer, sort)
    ordering = [column.desc(), Customer.id.desc()] if order == "desc" else [column.asc(), Customer.id.asc()]
    rows = list(Customer.select().where(where).order_by(*ordering).offset(offset).limit(limit))
    total = Customer.select().where(where).count()
    return [customer_json(c) for c in rows], total


def get_customer(project_id: str, key: str) -> Customer:
    customer = Customer.get_or_none((Customer.project == project_id) & (Customer.key == key))
    if customer is None:
        raise not_found("Customer not found")
    return customer


def timeline(project_id: str, key: str, days: int = TIMELINE_DAYS, now: dt.datetime | None = None) -> list[dict]:
    """Daily counts, newest day first: {day, events: {name: n}, churn_events, emails_sent,
    payment_recoveries, billing_actions}. Only days with something in them."""
    since = (now or utcnow()).date() - dt.timedelta(days=days - 1)
    rows = (CustomerActivity.select(CustomerActivity.day, CustomerActivity.kind, CustomerActivity.name,
                                    CustomerActivity.count)
            .where((CustomerActivity.project == project_id) & (CustomerActivity.customer_key == key)
                   & (CustomerActivity.day >= since))
            .order_by(CustomerActivity.day.desc(), CustomerActivity.kind, CustomerActivity.name).tuples())
    field = {"churn": "churn_events", "email": "emails_sent", "recovery": "payment_recoveries",
             "billing": "billing_actions"}
    out: list[dict] = []
    for day, kind, name, count in rows:
        day = day if isinstance(day, str) else day.isoformat()
        if not out or out[-1]["day"] != day:
            out.append({"day": day, "events": {}, "churn_events": 0, "emails_sent": 0,
                        "payment_recoveries": 0, "billing_actions": 0})
        if kind == "event":
            out[-1]["events"][name] = count
        elif kind in field:
            out[-1][field[kind]] += count
    return out


def top_events(project_id: str, customer_id: str | None, customer_email: str | None, days: int = 90,
               limit: int = 3, now: dt.datetime | None = None) -> list[dict]:
    """The customer's most frequent tracked events of the last `days` days: [{name, count}]."""
    from store.customers import key_of

    key = key_of(customer_id, customer_email)
    if key is None:
        return []
    if not customer_id:  # an email-only churn event: the customer the tracked events created
        found = (Customer.select(Customer.key).where((Customer.project == project_id)
                                                    & (Customer.customer_email == key)).order_by(Customer.id).first())
        key = found.key if found else key
    since = (now or utcnow()).date() - dt.timedelta(days=days - 1)
    total = fn.SUM(CustomerActivity.count)
    rows = (CustomerActivity.select(CustomerActivity.name, total)
            .where((CustomerActivity.project == project_id) & (CustomerActivity.customer_key == key)
                   & (CustomerActivity.kind == "event") & (CustomerActivity.day >= since))
            .group_by(CustomerActivity.name).order_by(total.desc(), CustomerActivity.name).limit(limit).tuples())
    return [{"name": name, "count": int(count)} for name, count in rows]
