"""The analytics rollups give the full scan's answers, exactly.

Random data sets are written through the real writers (churn events recorded and refreshed with
another currency or amount, reasons changed, variants marked ready, emails sent, recoveries
across month boundaries and at the edges of the 7/30/60/90-day windows, cancel-flow answers
with and without a save, the lost sweep), then stats, cohorts and forecasting are asked for
random `from`/`to`/`currency` scopes (whole months, whole days, any instant, open-ended) and
random times of reading, from the rollups and by the full scan. A recount of the rollups must
find no difference either. ROLLUP_DATASETS=n runs more data sets (default 30).
"""
from __future__ import annotations

import datetime as dt
import os
import random

from store import analytics_rollups, analytics_scan, churn_events, rollup_rebuild, variants
from store.analytics import Scope
from store.analytics_months import add_months, month_start
from store.cancel_flow import record_answer
from store.db import unit_of_work
from store.models import CANCEL_REASONS, SOURCES, STRATEGIES, TONES, ChurnEvent, Project
from store.offers import DEFAULT_OFFERS
from store.projects import create_project
from store.users import create_user
from tests.analytics_dataset import set_lost_after_days

DATASETS = int(os.environ.get("ROLLUP_DATASETS", "30"))
CURRENCIES = ("USD", "EUR", "GBP")
BASE = dt.datetime(2025, 1, 1)
DAY = dt.timedelta(days=1)


def random_moment(rng: random.Random, first: dt.datetime, days: int) -> dt.datetime:
    """Any instant, a midnight, or the first instant of a month: edges are where rollups can go wrong."""
    moment = first + dt.timedelta(seconds=rng.randrange(days * 86400), microseconds=rng.randrange(1_000_000))
    pick = rng.random()
    if pick < 0.15:
        return month_start(moment)
    if pick < 0.3:
        return dt.datetime(moment.year, moment.month, moment.day)
    return moment


def recovery_delay(rng: random.Random) -> dt.timedelta:
    pick = rng.random()
    if pick < 0.4:  # on a window's edge, or a millisecond either side of it
        days = rng.choice((7, 30, 60, 90))
        return dt.timedelta(days=days, milliseconds=rng.choice((-1, 0, 0, 1)))
    return dt.timedelta(seconds=rng.randrange(150 * 86400), microseconds=rng.randrange(1_000_000))


def fields(rng: random.Random, email: str, churned_at: dt.datetime) -> dict:
    return {"customer_email": email, "churned_at": churned_at, "currency": rng.choice(CURRENCIES),
            "mrr_cents": rng.choice((0, 500, 1900, 4900, 12345)), "source": rng.choice(SOURCES),
            "cancel_reason": rng.choice(CANCEL_REASONS + (None, None))}


def build(rng: random.Random, project_id: str, span_days: int) -> list[str]:
    """A random history through the writers; returns the event ids."""
    ids = []
    emails = [f"c{n}@example.com" for n in range(rng.randrange(15, 45))]
    for _ in range(rng.randrange(25, 60)):
        email = rng.choice(emails)
        event, _created = churn_events.record_churn(project_id, fields(rng, email, random_moment(rng, BASE, span_days)))
        ids.append(event.id)
        roll = rng.random()
        if roll < 0.45:
            churn_events.mark_variants_ready(event.id)
            kinds = rng.sample([(s, t) for s in STRATEGIES for t in TONES], rng.randrange(1, 4))
            for strategy, tone in kinds:
                variant = variants.Variant.create(project=project_id, churn_event=event.id, strategy=strategy,
                                                  tone=tone, subject="s", body_text="b", body_html="b",
                                                  generator="test")
                if rng.random() < 0.7 and event.status not in churn_events.CLOSED_STATUSES:
                    variants.mark_sent(project_id, event.id, variant.id, "claim", f"<{variant.id}@test>")
        if roll < 0.6 and rng.random() < 0.6:
            current = ChurnEvent.get_by_id(event.id)
            if current.status not in churn_events.CLOSED_STATUSES:
                churn_events.mark_recovered(project_id, event.id, rng.choice((None, 0, 777, 2500)),
                                            recovered_at=current.churned_at + recovery_delay(rng))
        if rng.random() < 0.2:
            reason = rng.choice(CANCEL_REASONS)
            accept = reason in DEFAULT_OFFERS and rng.random() < 0.5
            try:
                record_answer(project_id, {"customer_email": email, "reason": reason, "offer_accepted": accept})
            except Exception as error:  # noqa: BLE001 - a closed event cannot be saved: nothing changed
                assert "no longer open" in str(error)
        if rng.random() < 0.15:
            churn_events.change_cancel_reason(project_id, rng.choice(ids), rng.choice(CANCEL_REASONS), None, False)
    return ids


def random_scope(rng: random.Random, project_id: str, lost_after_days: int, span_days: int) -> Scope:
    start = end = None
    if rng.random() < 0.6:
        start = random_moment(rng, BASE - 40 * DAY, span_days + 80)
    if rng.random() < 0.6:
        end = random_moment(rng, BASE - 40 * DAY, span_days + 80)
    if start is not None and end is not None and start >= end:
        start, end = end, start + DAY
    currency = rng.choice((None, None) + CURRENCIES)
    return Scope(project_id, lost_after_days, start, end, currency)


def test_rollups_answer_exactly_as_the_full_scan(ctx):
    rng = random.Random(20261202)
    with unit_of_work():
        owner = create_user("rollups@example.com", "R", None).id
    for n in range(DATASETS):
        seed = rng.randrange(10**9)
        data = random.Random(seed)
        span_days = data.choice((40, 200, 420))
        lost_after_days = data.choice((10, 45, 90, 200))
        with unit_of_work():
            project, _ = create_project(owner, f"Rollups {n}", f"rollups-{n}")
            build(data, project.id, span_days)
            if data.random() < 0.5:  # the sweep's cut-off (90 days before) falls inside the data
                churn_events.sweep_lost(BASE + dt.timedelta(days=90 + data.randrange(span_days), hours=data.random()))
            if data.random() < 0.3:  # more churn after the sweep, into the open-days rollup
                build(data, project.id, span_days)
        set_lost_after_days(project.id, lost_after_days)
        with unit_of_work():
            assert rollup_rebuild.differences(project.id) == [], f"data set {n} (seed {seed})"
            for _ in range(8):
                scope = random_scope(data, project.id, lost_after_days, span_days)
                now = random_moment(data, BASE, span_days + 200)
                where = f"data set {n} (seed {seed}), {scope}, now {now}"
                assert analytics_rollups.stats(scope, now) == analytics_scan.stats(scope, now), where
                first = add_months(month_start(BASE), data.randrange(-2, 14))
                count = data.randrange(1, 16)
                assert (analytics_rollups.cohorts(scope, first, count)
                        == analytics_scan.cohorts(scope, first, count)), where
                horizon = data.randrange(1, 13)
                assert (analytics_rollups.forecast(scope, now, horizon)
                        == analytics_scan.forecast(scope, now, horizon)), where
    with unit_of_work():  # later sweeps moved the events of earlier data sets too
        for n in range(DATASETS):
            project = Project.get(Project.slug == f"rollups-{n}")
            assert rollup_rebuild.differences(project.id) == [], f"data set {n}"


def test_a_rebuild_reports_what_the_kept_rollups_got_wrong_and_corrects_them(ctx):
    with unit_of_work():
        owner = create_user("rebuild@example.com", "R", None).id
        project, _ = create_project(owner, "Rebuild", "rebuild")
        event, _ = churn_events.record_churn(project.id, {"customer_email": "a@example.com", "mrr_cents": 900,
                                                          "currency": "EUR", "churned_at": dt.datetime(2025, 3, 9)})
        assert rollup_rebuild.differences(project.id) == []
        # A writer that forgot the rollups: the event's amount changed behind their back.
        ChurnEvent.update(mrr_cents=1000).where(ChurnEvent.id == event.id).execute()
        found = rollup_rebuild.differences(project.id)
        assert len(found) == 1 and "202503" in found[0] and "kept [1, 900," in found[0]
        scope = Scope(project.id, 90)
        now = dt.datetime(2025, 4, 1)
        assert analytics_rollups.stats(scope, now)["mrr_churned_cents"] == {"EUR": 900}
        assert rollup_rebuild.rebuild_project(project.id) == found
        assert rollup_rebuild.differences(project.id) == []
        assert analytics_rollups.stats(scope, now) == analytics_scan.stats(scope, now)
        assert analytics_rollups.stats(scope, now)["mrr_churned_cents"] == {"EUR": 1000}
