"""Analytics (docs/analytics.md): what the answers are made of, shared by the two ways of
counting them.

The endpoints answer from rollups (store/analytics_rollups.py); the full scan of the events
(store/analytics_scan.py) is kept to rebuild and verify the rollups and to test them. Both produce
the same grouped rows (one per currency x reason x source x status for stats, one per month x
currency for cohorts) and fold them with the functions here, so the answers can only differ if
the rows do.

Scope: one project's churn events whose `churned_at` lies in [start, end) (`Scope`), optionally of
one currency. Amounts are never added across currencies: every amount is an object keyed by
currency.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee

from store.analytics_sql import month_label, month_of, recovered_amount, seconds_between  # noqa: F401 (re-exported)
from store.models import CHURN_STATUSES, OPEN_STATUSES, STRATEGIES, TONES, ChurnEvent

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


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def add_amount(amounts: dict, currency: str, cents) -> None:
    amounts[currency] = amounts.get(currency, 0) + int(cents or 0)


def add_counts(total: dict, part: dict) -> dict:
    for key, n in part.items():
        total[key] = total.get(key, 0) + n
    return total


# --- GET /stats ----------------------------------------------------------------------------------

def fold_event_groups(rows, stale_by_status: dict | None = None) -> dict:
    """Rows (currency, reason, source, stored status, count, mrr, won, stale) -> the event figures.
    `stale` counts the open events of the row churned before the lost cut-off, which readers see
    as `lost`; `stale_by_status` gives the same per status instead (the rollups count it apart)."""
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
    for status, n in (stale_by_status or {}).items():
        by_status["lost"] += n
        by_status[status] -= n
    for groups in (by_reason, by_source):
        for group in groups.values():
            group["recovery_rate"] = rate(group["recovered"], group["churned"])
            group["mrr_churned_cents"] = dict(sorted(group["mrr_churned_cents"].items()))
    return {"by_status": by_status, "by_reason": dict(sorted(by_reason.items())),
            "by_source": dict(sorted(by_source.items())), "mrr_churned_cents": dict(sorted(churned_mrr.items())),
            "mrr_recovered_cents": dict(sorted(recovered_mrr.items()))}


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


def variant_table(sent: dict, recovered: dict) -> list[dict]:
    """All nine strategy x tone pairs, zeros included, in the order of store.models.STRATEGIES
    and TONES (then any other pair found)."""
    pairs = [(s, t) for s in STRATEGIES for t in TONES]
    pairs += sorted((set(sent) | set(recovered)) - set(pairs))
    return [{"strategy": s, "tone": t, "sent": sent.get((s, t), 0), "recovered": recovered.get((s, t), 0),
             "recovery_rate": rate(recovered.get((s, t), 0), sent.get((s, t), 0))} for s, t in pairs]
