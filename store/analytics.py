"""Analytics queries (docs/analytics.md): grouped SQL over indexed columns, the same on SQLite and PostgreSQL.

Every figure is aggregated by the database; Python only folds the few grouped rows (one per
currency x reason x source x status, at most a few hundred) into the answer. What each figure
means is defined in docs/analytics.md; the comments here say how the SQL gets there.

Scope: one project's churn events whose `churned_at` lies in [start, end) (`Scope`), optionally of
one currency. Amounts are never added across currencies: every amount is an object keyed by
currency.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee
from peewee import JOIN, SQL, Case, fn

from store.cancel_flow import CancelFlowSubmission
from store.churn_event_reads import lost_cutoff
from store.db import is_sqlite
from store.models import CHURN_STATUSES, OPEN_STATUSES, STRATEGIES, TONES, ChurnEvent
from store.variants import Variant

NO_REASON = "unspecified"  # the by_reason key of events without a cancel reason


@dataclass(frozen=True)
class Scope:
    """Which churn events a figure counts: one project, churned in [start, end), one currency."""

    project_id: str
    lost_after_days: int
    start: dt.datetime | None = None  # inclusive
    end: dt.datetime | None = None  # exclusive
    currency: str | None = None

    def where(self, model=ChurnEvent) -> peewee.Expression:
        condition = model.project == self.project_id
        if self.start is not None:
            condition &= model.churned_at >= self.start
        if self.end is not None:
            condition &= model.churned_at < self.end
        if self.currency is not None:
            condition &= model.currency == self.currency
        return condition

    @property
    def narrowed(self) -> bool:
        """True when a range or currency is set (rows of other tables must join churn_events)."""
        return self.start is not None or self.end is not None or self.currency is not None


# --- portable SQL pieces -------------------------------------------------------------------------

def month_of(column) -> peewee.Node:
    """The calendar month of a (naive UTC) timestamp column; `month_label` reads the value.
    SQLite: strftime('%Y-%m') with the format as a literal, not a parameter. PostgreSQL:
    date_trunc('month'), which its planner has statistics for (m0008), so it aggregates with a hash
    instead of sorting."""
    if is_sqlite():
        return fn.strftime(SQL("'%Y-%m'"), column)
    return fn.date_trunc(SQL("'month'"), column)


def month_label(value) -> str:
    """'YYYY-MM' of what `month_of` returned (text on SQLite, a timestamp on PostgreSQL)."""
    if isinstance(value, str):
        return value[:7]
    return f"{value.year:04d}-{value.month:02d}"


def seconds_between(later, earlier) -> peewee.Node:
    """later - earlier in seconds (float). SQLite's julianday keeps milliseconds."""
    if is_sqlite():
        return (fn.julianday(later) - fn.julianday(earlier)) * 86400.0
    return fn.date_part("epoch", later - earlier)


def recovered_amount() -> peewee.Node:
    """Money won back by an event: its recovered_mrr_cents if (and only if) it is recovered."""
    return Case(None, [(ChurnEvent.status == "recovered", fn.COALESCE(ChurnEvent.recovered_mrr_cents, 0))], 0)


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def add_amount(amounts: dict, currency: str, cents) -> None:
    amounts[currency] = amounts.get(currency, 0) + int(cents or 0)


# --- GET /stats ----------------------------------------------------------------------------------
# Three independent parts (the handler runs them side by side on the worker pool): the events
# grouped by currency, reason, source and status; emails sent and cancel-flow answers; recoveries
# per kind of email. `combine` folds them into the answer.

def event_groups(scope: Scope, now: dt.datetime) -> dict:
    # Grouped by the stored status (so the GROUP BY follows the index churn_events_analytics);
    # `stale` counts the open events churned before the cut-off, which readers see as `lost`.
    cutoff = lost_cutoff(scope.lost_after_days, now)
    stale = fn.SUM(Case(None, [(ChurnEvent.churned_at < cutoff, 1)], 0))
    keys = (ChurnEvent.currency, ChurnEvent.cancel_reason, ChurnEvent.source, ChurnEvent.status)
    rows = (ChurnEvent
            .select(*keys, fn.COUNT(SQL("*")), fn.SUM(ChurnEvent.mrr_cents), fn.SUM(recovered_amount()), stale)
            .where(scope.where()).group_by(*keys).tuples())
    by_status = {name: 0 for name in CHURN_STATUSES}
    by_reason: dict[str, dict] = {}
    by_source: dict[str, dict] = {}
    churned_mrr: dict[str, int] = {}
    recovered_mrr: dict[str, int] = {}
    for currency, reason, source, status, count, mrr, won, stale_count in rows:
        if status in OPEN_STATUSES:
            by_status["lost"] += int(stale_count)
            by_status[status] += count - int(stale_count)
        else:
            by_status[status] = by_status.get(status, 0) + count
        add_amount(churned_mrr, currency, mrr)
        add_amount(recovered_mrr, currency, won)  # 0 unless recovered: every currency is listed
        for groups, key in ((by_reason, reason or NO_REASON), (by_source, source)):
            group = groups.setdefault(key, {"churned": 0, "recovered": 0, "recovery_rate": 0.0,
                                            "mrr_churned_cents": {}})
            group["churned"] += count
            group["recovered"] += count if status == "recovered" else 0
            add_amount(group["mrr_churned_cents"], currency, mrr)
    for groups in (by_reason, by_source):
        for group in groups.values():
            group["recovery_rate"] = rate(group["recovered"], group["churned"])
            group["mrr_churned_cents"] = dict(sorted(group["mrr_churned_cents"].items()))
    return {"by_status": by_status, "by_reason": dict(sorted(by_reason.items())),
            "by_source": dict(sorted(by_source.items())), "mrr_churned_cents": dict(sorted(churned_mrr.items())),
            "mrr_recovered_cents": dict(sorted(recovered_mrr.items()))}


def sends_and_submissions(scope: Scope) -> tuple[dict, int]:
    return emails_sent_by_kind(scope), cancel_flow_submissions(scope)


def combine(groups: dict, sends: tuple[dict, int], recoveries: dict) -> dict:
    by_status = groups["by_status"]
    sent, submissions = sends
    total = sum(by_status.values())
    return {
        "churn_events": total,
        "recovered": by_status["recovered"],
        "lost": by_status["lost"],
        "saved": by_status["saved"],
        "open": sum(by_status[s] for s in OPEN_STATUSES),
        "recovery_rate": rate(by_status["recovered"], total),
        "save_rate": rate(by_status["saved"], submissions),
        "cancel_flow_submissions": submissions,
        "mrr_churned_cents": groups["mrr_churned_cents"],
        "mrr_recovered_cents": groups["mrr_recovered_cents"],
        "emails_sent": sum(sent.values()),
        "currencies": list(groups["mrr_churned_cents"]),
        "by_reason": groups["by_reason"],
        "by_source": groups["by_source"],
        "by_status": by_status,
        "by_variant": variant_table(sent, recoveries),
    }


def cancel_flow_submissions(scope: Scope) -> int:
    """Submissions whose churn event is in scope (the denominator of save_rate)."""
    query = CancelFlowSubmission.select(fn.COUNT(CancelFlowSubmission.id))
    if scope.narrowed:
        query = (query.join(ChurnEvent, on=(CancelFlowSubmission.churn_event == ChurnEvent.id))
                 .where(scope.where()))
    else:
        query = query.where(CancelFlowSubmission.project == scope.project_id)
    return query.scalar() or 0


def emails_sent_by_kind(scope: Scope) -> dict[tuple[str, str], int]:
    """(strategy, tone) -> emails sent for events in scope."""
    if scope.narrowed:  # from the events in scope to their emails (variants_analytics_event)
        query = (ChurnEvent.select(Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
                 .join(Variant, on=(Variant.churn_event == ChurnEvent.id))
                 .where(scope.where() & (Variant.status == "sent")))
    else:  # every email of the project (variants_analytics_sent)
        query = (Variant.select(Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
                 .where((Variant.project == scope.project_id) & (Variant.status == "sent")))
    return {(s, t): n for s, t, n in query.group_by(Variant.strategy, Variant.tone).tuples()}


def recoveries_by_kind(scope: Scope) -> dict[tuple[str, str], int]:
    """(strategy, tone) -> recovered events in scope credited to an email of that kind."""
    query = (ChurnEvent.select(Variant.strategy, Variant.tone, fn.COUNT(SQL("*")))
             .join(Variant, JOIN.INNER, on=(ChurnEvent.recovered_by_variant_id == Variant.id))
             .where(scope.where() & (ChurnEvent.status == "recovered"))
             .group_by(Variant.strategy, Variant.tone).tuples())
    return {(s, t): n for s, t, n in query}


def variant_table(sent: dict, recovered: dict) -> list[dict]:
    """All nine strategy x tone pairs, zeros included, in the order of store.models.STRATEGIES
    and TONES (then any other pair found)."""
    pairs = [(s, t) for s in STRATEGIES for t in TONES]
    pairs += sorted((set(sent) | set(recovered)) - set(pairs))
    return [{"strategy": s, "tone": t, "sent": sent.get((s, t), 0), "recovered": recovered.get((s, t), 0),
             "recovery_rate": rate(recovered.get((s, t), 0), sent.get((s, t), 0))} for s, t in pairs]
