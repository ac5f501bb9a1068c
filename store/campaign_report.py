"""What the campaign did, counted from stored rows: the groups' recoveries, and sends and
recoveries per email (arm). No counter table: every figure is a grouped query over `churn_events`
and `variants`, so it can never drift from the sends and recoveries themselves.
"""
from __future__ import annotations

from peewee import Case, fn

from store.analytics import Scope
from store.campaign_stats import ARMS, lift, posterior_mean, rate
from store.models import ChurnEvent
from store.variants import Variant

RECENT_SENDS = 100  # `share_of_recent_sends` is over this many of the latest sends


def arm_counts(project_id: str) -> dict:
    """reason -> {(strategy, tone): (sent, recovered)} over every email sent in the project; a
    recovery counts for the variant recorded in `recovered_by_variant_id` (the last one sent)."""
    counts: dict = {}
    sends = (Variant.select(ChurnEvent.cancel_reason, Variant.strategy, Variant.tone, fn.COUNT(Variant.id))
             .join(ChurnEvent, on=(Variant.churn_event == ChurnEvent.id))
             .where((Variant.project == project_id) & (Variant.status == "sent"))
             .group_by(ChurnEvent.cancel_reason, Variant.strategy, Variant.tone).tuples())
    for reason, strategy, tone, sent in sends:
        counts.setdefault(reason, {})[(strategy, tone)] = (sent, 0)
    for reason, strategy, tone, recovered in _recoveries(ChurnEvent.project == project_id, ChurnEvent.cancel_reason):
        arms = counts.setdefault(reason, {})
        sent, _ = arms.get((strategy, tone), (0, 0))
        arms[(strategy, tone)] = (sent, recovered)
    return counts


def _recoveries(condition, *group):
    return (ChurnEvent.select(*group, Variant.strategy, Variant.tone, fn.COUNT(ChurnEvent.id))
            .join(Variant, on=(ChurnEvent.recovered_by_variant_id == Variant.id))
            .where(condition & (ChurnEvent.status == "recovered"))
            .group_by(*group, Variant.strategy, Variant.tone).tuples())


def groups(scope: Scope) -> dict:
    """{group: (customers, recovered)}. A customer saved by the cancel flow is left out of both
    groups: the save happened before the group could make any difference."""
    recovered = fn.SUM(Case(None, [(ChurnEvent.status == "recovered", 1)], 0))
    rows = (ChurnEvent.select(ChurnEvent.campaign_group, fn.COUNT(ChurnEvent.id), recovered)
            .where(scope.where() & ChurnEvent.campaign_group.is_null(False)
                   & ((ChurnEvent.campaign_ended_reason != "saved") | ChurnEvent.campaign_ended_reason.is_null()))
            .group_by(ChurnEvent.campaign_group).tuples())
    return {group: (int(customers), int(won or 0)) for group, customers, won in rows}


def arms(scope: Scope) -> list[dict]:
    """Per arm, over the emails sent for the churn events in scope."""
    sent_rows = (Variant.select(Variant.strategy, Variant.tone, fn.COUNT(Variant.id))
                 .join(ChurnEvent, on=(Variant.churn_event == ChurnEvent.id))
                 .where(scope.where() & (Variant.status == "sent"))
                 .group_by(Variant.strategy, Variant.tone).tuples())
    sent = {(strategy, tone): int(n) for strategy, tone, n in sent_rows}
    won = {(strategy, tone): int(n) for strategy, tone, n in _recoveries(scope.where())}
    latest = (Variant.select(Variant.strategy, Variant.tone)
              .join(ChurnEvent, on=(Variant.churn_event == ChurnEvent.id))
              .where(scope.where() & (Variant.status == "sent"))
              .order_by(Variant.sent_at.desc(), Variant.id.desc()).limit(RECENT_SENDS).tuples())
    recent: dict = {}
    for arm in latest:
        recent[arm] = recent.get(arm, 0) + 1
    recent_total = sum(recent.values())
    return [{"strategy": strategy, "tone": tone, "sent": sent.get((strategy, tone), 0),
             "recovered": won.get((strategy, tone), 0),
             "recovery_rate": rate(won.get((strategy, tone), 0), sent.get((strategy, tone), 0)),
             "posterior_mean": posterior_mean(sent.get((strategy, tone), 0), won.get((strategy, tone), 0)),
             "share_of_recent_sends": rate(recent.get((strategy, tone), 0), recent_total)}
            for strategy, tone in ARMS]


def sends_by_day(scope: Scope) -> list[dict]:
    """[{date, strategy, sent}] per day of `sent_at` (UTC), oldest first: the dashboard's chart of
    how the sends shift between strategies as the campaign learns."""
    rows = (Variant.select(Variant.sent_at, Variant.strategy)
            .join(ChurnEvent, on=(Variant.churn_event == ChurnEvent.id))
            .where(scope.where() & (Variant.status == "sent")).tuples())
    counts: dict = {}
    for sent_at, strategy in rows:
        key = (sent_at.date().isoformat(), strategy)
        counts[key] = counts.get(key, 0) + 1
    return [{"date": date, "strategy": strategy, "sent": n} for (date, strategy), n in sorted(counts.items())]


def report(scope: Scope, enabled: bool) -> dict:
    by_group = groups(scope)
    t_customers, t_recovered = by_group.get("treatment", (0, 0))
    h_customers, h_recovered = by_group.get("holdout", (0, 0))
    return {
        "enabled": enabled,
        "treatment": {"customers": t_customers, "recovered": t_recovered,
                      "recovery_rate": rate(t_recovered, t_customers)},
        "holdout": {"customers": h_customers, "recovered": h_recovered,
                    "recovery_rate": rate(h_recovered, h_customers)},
        "lift": lift(t_customers, t_recovered, h_customers, h_recovered),
        "arms": arms(scope),
        "sends_by_day": sends_by_day(scope),
    }
