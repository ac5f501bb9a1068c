"""A hand-built data set for the analytics tests, inserted through the store models (the real
database). The expected figures are counted by hand in the test files from the table below.
Rows written this way bypass the churn-event transitions, so the analytics rollups are then
recounted from them, as migration m0018 does for data stored before it (store/rollup_rebuild.py).

The project's `lost_after_days` is set so that the cut-off for "lost on read" falls on
2025-04-15, inside April 2025, a month without events: open events of January to March are
lost, those of May and June are still open, whatever day the tests run.
"""
from __future__ import annotations

import datetime as dt

from store.cancel_flow import CancelFlowSubmission
from store.db import unit_of_work
from store.rollup_rebuild import rebuild_project
from store.models import ChurnEvent, Project, utcnow
from store.serialize import dumps, loads_object
from store.variants import Variant

D = dt.datetime
DAY = dt.timedelta(days=1)
LOST_CUTOFF = D(2025, 4, 15, 12, 0)

# tag, churned_at, currency, mrr_cents, cancel_reason, source, stored status,
# recovered after (timedelta or None), recovered_mrr_cents
EVENTS = [
    ("E1", D(2025, 1, 3, 10), "USD", 5000, "too_expensive", "stripe", "recovered", 5 * DAY, 5000),
    ("E2", D(2025, 1, 5, 10), "USD", 3000, "too_expensive", "stripe", "recovered", 20 * DAY, 2500),
    ("E3", D(2025, 1, 10, 10), "EUR", 4000, "missing_features", "api", "recovered", 45 * DAY, 4000),
    ("E4", D(2025, 1, 12, 10), "USD", 2000, "not_using", "widget", "saved", None, None),
    ("E5", D(2025, 1, 15, 10), "USD", 1000, "not_using", "api", "lost", None, None),
    ("E6", D(2025, 1, 20, 10), "USD", 1500, None, "razorpay", "contacted", None, None),
    ("E7", D(2025, 1, 25, 10), "EUR", 6000, "switched_competitor", "stripe", "recovered", 100 * DAY, 6000),
    ("E8", D(2025, 2, 2, 10), "USD", 2500, "too_expensive", "stripe", "recovered", 7 * DAY, 2500),
    ("E9", D(2025, 2, 5, 10), "USD", 4000, "payment_failed", "stripe", "recovered",
     30 * DAY + dt.timedelta(hours=1), 4000),
    ("E10", D(2025, 2, 10, 10), "USD", 3500, "technical_issues", "custom", "new", None, None),
    ("E11", D(2025, 2, 14, 10), "EUR", 2000, "temporary", "widget", "saved", None, None),
    ("E12", D(2025, 2, 20, 10), "USD", 1200, "poor_support", "api", "variants_ready", None, None),
    ("E13", D(2025, 2, 27, 10), "USD", 800, "too_expensive", "api", "lost", None, None),
    ("E14", D(2025, 3, 3, 10), "USD", 5000, "too_expensive", "stripe", "recovered", 20 * DAY, 4000),
    ("E15", D(2025, 3, 10, 10), "USD", 3000, "missing_features", "razorpay", "recovered", 45 * DAY, 3000),
    ("E16", D(2025, 3, 15, 10), "EUR", 2500, "other", "custom", "contacted", None, None),
    ("E17", D(2025, 3, 28, 10), "USD", 1000, "not_using", "widget", "saved", None, None),
    # April 2025: no events.
    ("E18", D(2025, 5, 2, 10), "USD", 6000, "too_expensive", "stripe", "recovered", 5 * DAY, 6000),
    ("E19", D(2025, 5, 6, 10), "USD", 2000, "switched_competitor", "api", "new", None, None),
    ("E20", D(2025, 5, 9, 10), "EUR", 3000, "payment_failed", "razorpay", "recovered", 100 * DAY, 3000),
    ("E21", D(2025, 5, 15, 10), "USD", 1500, "not_using", "widget", "saved", None, None),
    ("E22", D(2025, 5, 20, 10), "USD", 4500, "too_expensive", "stripe", "contacted", None, None),
    ("E23", D(2025, 5, 30, 10), "USD", 2200, "missing_features", "api", "variants_ready", None, None),
    ("E24", D(2025, 6, 1, 0), "USD", 3300, "too_expensive", "stripe", "recovered", 45 * DAY, 3300),
    ("E25", D(2025, 6, 10, 10), "GBP", 2000, "temporary", "widget", "saved", None, None),
    ("E26", D(2025, 6, 12, 10), "USD", 1800, "payment_failed", "stripe", "recovered", 20 * DAY, 1800),
    ("E27", D(2025, 6, 18, 10), "EUR", 5000, "too_expensive", "stripe", "new", None, None),
    ("E28", D(2025, 6, 25, 10), "USD", 900, "other", "api", "contacted", None, None),
    ("E29", D(2025, 6, 30, 23, 59, 59), "USD", 700, None, "custom", "recovered", 5 * DAY, 700),
]

# Variants: tag, event, strategy, tone, status; a recovered event is attributed to the variant
# marked True (the last one sent before its recovery).
VARIANTS = [
    ("V1", "E1", "discount_offer", "friendly", "sent", True),
    ("V2", "E2", "value_reminder", "professional", "sent", True),
    ("V3", "E6", "personal_check_in", "urgent", "sent", False),
    ("V4", "E7", "discount_offer", "friendly", "sent", True),
    ("V5", "E8", "discount_offer", "professional", "sent", True),
    ("V6", "E13", "value_reminder", "friendly", "sent", False),
    ("V7a", "E14", "value_reminder", "friendly", "sent", False),
    ("V7", "E14", "discount_offer", "friendly", "sent", True),
    ("V8", "E15", "personal_check_in", "professional", "sent", True),
    ("V9", "E16", "value_reminder", "urgent", "sent", False),
    ("V10", "E18", "discount_offer", "friendly", "sent", True),
    ("V11", "E22", "discount_offer", "urgent", "sent", False),
    ("V12", "E24", "value_reminder", "professional", "sent", True),
    ("V13", "E26", "personal_check_in", "friendly", "sent", True),
    ("V14", "E28", "personal_check_in", "friendly", "sent", False),
    ("V15", "E5", "discount_offer", "friendly", "sent", False),
    # Never sent: not emails.
    ("D1", "E19", "discount_offer", "friendly", "draft", False),
    ("D2", "E19", "value_reminder", "urgent", "edited", False),
    ("D3", "E22", "discount_offer", "professional", "failed", False),
    ("D4", "E9", "personal_check_in", "urgent", "draft", False),
]

# Cancel-flow submissions: event, offer accepted. E21 declined once, then accepted.
SUBMISSIONS = [("E4", True), ("E5", False), ("E11", True), ("E17", True), ("E19", False), ("E21", False),
               ("E21", True), ("E25", True)]


def lost_after_days_for_cutoff(cutoff: dt.datetime = LOST_CUTOFF) -> int:
    return (utcnow() - cutoff).days


def set_lost_after_days(project_id: str, days: int) -> None:
    with unit_of_work():
        project = Project.get_by_id(project_id)
        project.settings = dumps({**loads_object(project.settings), "lost_after_days": days})
        project.save()


def insert_event(project_id: str, tag: str, churned_at: dt.datetime, currency: str = "USD", mrr: int = 1000,
                 reason: str | None = None, source: str = "api", status: str = "new",
                 recovered_after: dt.timedelta | None = None, recovered_mrr: int | None = None,
                 recovered_at: dt.datetime | None = None) -> ChurnEvent:
    with unit_of_work():
        if recovered_after is not None:
            recovered_at = churned_at + recovered_after
        event = ChurnEvent.create(
            project=project_id, customer_email=f"{tag.lower()}-{project_id[-6:]}@example.com", mrr_cents=mrr,
            currency=currency, cancel_reason=reason, source=source, status=status, churned_at=churned_at,
            recovered_at=recovered_at, recovered_mrr_cents=recovered_mrr, saved=status == "saved",
            created_at=churned_at, updated_at=recovered_at or churned_at)
        rebuild_project(project_id)
        return event


def build(project_id: str) -> dict[str, str]:
    """Insert EVENTS, VARIANTS and SUBMISSIONS into the project; returns tag -> id."""
    ids: dict[str, str] = {}
    events = {}
    for tag, churned_at, currency, mrr, reason, source, status, after, won in EVENTS:
        event = insert_event(project_id, tag, churned_at, currency, mrr, reason, source, status, after, won)
        ids[tag] = event.id
        events[tag] = event
    with unit_of_work():
        for tag, event_tag, strategy, tone, status, attributed in VARIANTS:
            event = events[event_tag]
            variant = Variant.create(
                project=project_id, churn_event=event.id, strategy=strategy, tone=tone, subject=f"Subject {tag}",
                body_text="Hello", body_html="<p>Hello</p>", status=status, generator="template",
                sent_at=event.churned_at + DAY if status == "sent" else None)
            ids[tag] = variant.id
            if attributed:
                ChurnEvent.update(recovered_by_variant_id=variant.id).where(ChurnEvent.id == event.id).execute()
        for event_tag, accepted in SUBMISSIONS:
            event = events[event_tag]
            CancelFlowSubmission.create(project=project_id, churn_event=event.id, customer_email=event.customer_email,
                                        reason=event.cancel_reason or "other", offer_accepted=accepted,
                                        created_at=event.churned_at)
        rebuild_project(project_id)
    set_lost_after_days(project_id, lost_after_days_for_cutoff())
    return ids
