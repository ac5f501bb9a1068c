"""The churn-risk score: a logistic model over a few signals computed from stored data.

    score = round(100 * sigmoid(bias + sum(weight_i * signal_i)))

Every signal lies in 0..1 (docs/customers.md lists them with their default weights):
- `activity_drop`: how far the daily rate of the last 14 days fell below that of the 28 days
  before (0 without earlier activity, 1 when the customer went silent);
- `inactivity`: days since the last tracked event, over 30 (capped at 1);
- `watch_pages`: visits in the last 14 days to the events named in `settings.risk.watch_events`,
  over 3 (capped at 1);
- `open_payment_recovery`: 1 while a failed payment is being recovered;
- `earlier_churn`: 1 when the customer has churned before.

A project's `settings.risk.weights` overrides any of the weights (and the bias). Pure functions:
no database, so the model is checked by hand computations in the tests.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from store.validation import Field, FieldError, ListOf, Nested, Schema, String

DEFAULT_WEIGHTS = {
    "bias": -3.0,
    "activity_drop": 3.0,
    "inactivity": 2.5,
    "watch_pages": 2.0,
    "open_payment_recovery": 1.5,
    "earlier_churn": 1.0,
}
DEFAULT_WATCH_EVENTS = ["cancel_page_viewed", "billing_page_viewed", "downgrade_viewed"]
HIGH_AT, MEDIUM_AT = 60, 30  # score thresholds of the levels
INACTIVE_DAYS_CAP = 30
WATCH_VISITS_CAP = 3
REASON_MIN_WEIGHT = 0.25  # contributions smaller than this are not worth a sentence


class Weight(Field):
    """A number from -20 to 20 (a weight of the logistic model)."""

    type_name = "number"

    def convert(self, value, path, from_query):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FieldError("must be a number")
        if not -20 <= value <= 20:
            raise FieldError("must be between -20 and 20")
        return float(value)

    def _schema(self):
        return {"type": "number", "minimum": -20, "maximum": 20}


# `settings.risk`, as `PATCH /projects/:slug` takes it (merged over the defaults on use).
RISK_SETTINGS = Schema({
    "watch_events": ListOf(String(min_length=1, max_length=200), max_items=20),
    "weights": Nested(Schema({name: Weight() for name in DEFAULT_WEIGHTS})),
})


class RiskSettings(Nested):
    def __init__(self, **kw):
        super().__init__(RISK_SETTINGS, **kw)


@dataclass(frozen=True)
class Signals:
    events_last_14d: int
    events_prior_28d: int
    days_since_last_event: int | None  # None: never tracked
    watch_visits_14d: int
    open_payment_recovery: bool
    churn_count: int


def effective(settings: dict | None) -> tuple[dict, list[str]]:
    """(weights, watch events) of a project: its `settings.risk` over the defaults. A stored value
    that no longer validates is ignored (the defaults apply) rather than breaking scoring."""
    risk = (settings or {}).get("risk")
    weights, watch = dict(DEFAULT_WEIGHTS), list(DEFAULT_WATCH_EVENTS)
    if isinstance(risk, dict):
        try:
            risk = RISK_SETTINGS.clean(risk)
        except Exception:  # noqa: BLE001 - written by hand or by an older version
            risk = {}
        weights.update(risk.get("weights") or {})
        if risk.get("watch_events") is not None:
            watch = risk["watch_events"]
    return weights, watch


def signal_values(s: Signals) -> dict[str, float]:
    recent_rate, prior_rate = s.events_last_14d / 14, s.events_prior_28d / 28
    drop = max(0.0, 1 - recent_rate / prior_rate) if prior_rate > 0 else 0.0
    inactivity = 0.0 if s.days_since_last_event is None else min(s.days_since_last_event, INACTIVE_DAYS_CAP) / INACTIVE_DAYS_CAP
    return {
        "activity_drop": drop,
        "inactivity": inactivity,
        "watch_pages": min(s.watch_visits_14d, WATCH_VISITS_CAP) / WATCH_VISITS_CAP,
        "open_payment_recovery": 1.0 if s.open_payment_recovery else 0.0,
        "earlier_churn": 1.0 if s.churn_count > 0 else 0.0,
    }


def _reason_text(code: str, s: Signals, value: float) -> str:
    if code == "activity_drop":
        return (f"Activity fell {round(value * 100)}%: {s.events_last_14d} events in the last 14 days, "
                f"{s.events_prior_28d} in the 28 days before")
    if code == "inactivity":
        days = s.days_since_last_event
        return f"No activity for {days} day{'' if days == 1 else 's'}"
    if code == "watch_pages":
        n = s.watch_visits_14d
        return f"Visited cancel or billing pages {n} time{'' if n == 1 else 's'} in the last 14 days"
    if code == "open_payment_recovery":
        return "A failed payment is being recovered"
    return "Churned before"


def level_of(score: int) -> str:
    return "high" if score >= HIGH_AT else "medium" if score >= MEDIUM_AT else "low"


def score(s: Signals, weights: dict[str, float] | None = None) -> dict:
    """{score, level, reasons: [{code, text, weight}]}, reasons largest contribution first."""
    weights = weights or DEFAULT_WEIGHTS
    values = signal_values(s)
    z = weights["bias"] + sum(weights[code] * value for code, value in values.items())
    points = round(100 / (1 + math.exp(-z)))
    reasons = [{"code": code, "text": _reason_text(code, s, value), "weight": round(weights[code] * value, 2)}
               for code, value in values.items() if weights[code] * value >= REASON_MIN_WEIGHT]
    reasons.sort(key=lambda reason: -reason["weight"])
    return {"score": points, "level": level_of(points), "reasons": reasons}
