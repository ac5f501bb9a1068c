"""Keeping customers' risk scores current, from the daily counts alone.

A customer is scored again when something happened to them since the last scoring
(`activity_seq > scored_seq`) or when the day changed since (`scored_on < today`: the 14- and
28-day windows moved). That is done for one project before its customers are read
(`refresh_project`, bounded) and for every project by the server's housekeeping (`refresh_due`).
Scoring reads at most 42 days of `customer_activity` rows of the customers being scored; it never
reads tracked events.
"""
from __future__ import annotations

import datetime as dt
import json

import peewee
from peewee import Case, fn

from store import customer_intake, risk
from store.customers import Customer, CustomerActivity
from store.db import database, is_sqlite, transaction
from store.models import Project, utcnow
from store.customer_views import customer_json
from store.outbound import record_event
from store.serialize import loads_object

CHUNK = 500


def _update_sql() -> str:
    mark = "?" if is_sqlite() else "%s"
    columns = ("events_last_14d", "events_prior_28d", "risk_score", "risk_level", "risk_reasons", "status",
               "scored_seq", "scored_on")
    return (f'UPDATE "customers" SET {", ".join(f"{c} = {mark}" for c in columns)} WHERE id = {mark}')


def _due(project_id: str, today: dt.date):
    return (Customer.select()
            .where((Customer.project == project_id)
                   & ((Customer.activity_seq > Customer.scored_seq) | Customer.scored_on.is_null()
                      | (Customer.scored_on < today))))


def _window_counts(project_id: str, keys: list[str], today: dt.date, watch: list[str]) -> dict[str, tuple]:
    """key -> (events in the last 14 days, events in the 28 days before, watched visits in 14 days)."""
    since_recent, since_prior = today - dt.timedelta(days=13), today - dt.timedelta(days=41)
    recent = CustomerActivity.day >= since_recent
    watched = recent & CustomerActivity.name.in_(watch) if watch else None
    columns = [CustomerActivity.customer_key,
               fn.SUM(Case(None, [(recent, CustomerActivity.count)], 0)),
               fn.SUM(Case(None, [(recent, 0)], CustomerActivity.count)),
               fn.SUM(Case(None, [(watched, CustomerActivity.count)], 0)) if watched is not None else peewee.Value(0)]
    query = (CustomerActivity.select(*columns)
             .where((CustomerActivity.project == project_id) & (CustomerActivity.kind == "event")
                    & (CustomerActivity.day >= since_prior) & (CustomerActivity.day <= today)
                    & CustomerActivity.customer_key.in_(keys))
             .group_by(CustomerActivity.customer_key))
    return {key: (int(a or 0), int(b or 0), int(c or 0)) for key, a, b, c in query.tuples()}


def refresh_project(project_id: str, settings: dict | None, now: dt.datetime | None = None,
                    limit: int | None = None) -> list[Customer]:
    """Score the project's due customers (at most `limit`). Returns those whose level became high."""
    now = now or utcnow()
    today = now.date()
    customer_intake.flush_pending(project_id)
    weights, watch = risk.effective(settings)
    day_value = today.isoformat() if is_sqlite() else today
    became_high: list[Customer] = []
    done = 0
    while limit is None or done < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - done)
        with transaction():
            due = _due(project_id, today).order_by(Customer.id).limit(size)
            # PostgreSQL: lock them, so that /track, which skips marking a customer already
            # waiting to be scored, waits for this scoring instead of being missed by it.
            customers = list(due if is_sqlite() else due.for_update())
            if not customers:
                break
            counts = _window_counts(project_id, [c.key for c in customers], today, watch)
            updates, turned_high = [], []
            for customer in customers:
                recent, prior, visits = counts.get(customer.key, (0, 0, 0))
                days = None if customer.last_event_at is None else max(0, (now - customer.last_event_at).days)
                result = risk.score(risk.Signals(recent, prior, days, visits, customer.open_recovery,
                                                 customer.churn_count), weights)
                status = customer.churn_state or ("at_risk" if result["level"] == "high" else "active")
                reasons = json.dumps(result["reasons"])
                updates.append((recent, prior, result["score"], result["level"], reasons, status,
                                customer.activity_seq, day_value, customer.id))
                if result["level"] == "high" and customer.risk_level != "high":
                    customer.risk_score, customer.risk_level = result["score"], result["level"]
                    customer.risk_reasons, customer.status = reasons, status
                    customer.events_last_14d, customer.events_prior_28d = recent, prior
                    turned_high.append(customer)
            # One prepared UPDATE for the chunk: building each through the ORM cost more than the
            # scoring itself.
            database.obj.cursor().executemany(_update_sql(), updates)
            for customer in turned_high:  # announced with the change, in its transaction
                record_event(project_id, "customer.at_risk", lambda c=customer: customer_json(c))
            became_high += turned_high
        done += len(customers)
        if len(customers) < size:
            break
    return became_high


def refresh_due(now: dt.datetime | None = None) -> dict[str, list[Customer]]:
    """Score every project's due customers. Returns project id -> customers whose level became high."""
    now = now or utcnow()
    today = now.date()
    customer_intake.flush_pending()
    project_ids = [row[0] for row in (
        Customer.select(Customer.project).distinct()
        .where((Customer.activity_seq > Customer.scored_seq) | Customer.scored_on.is_null()
               | (Customer.scored_on < today)).tuples())]
    out: dict[str, list[Customer]] = {}
    for project_id in project_ids:
        project = Project.get_or_none(Project.id == project_id)
        if project is None:
            continue
        became_high = refresh_project(project_id, loads_object(project.settings), now)
        if became_high:
            out[project_id] = became_high
    return out


def score_all_again(project_id: str) -> None:
    """The project's risk settings changed: every customer is due again."""
    with transaction():
        Customer.update(scored_on=None).where(Customer.project == project_id).execute()
