"""A project's `settings.campaign`: how it is validated, its defaults, which churn events join,
and the stable holdout/treatment split. Pure: no database (docs/campaigns.md explains the rules).
"""
from __future__ import annotations

import hashlib
import math

from store.models import CANCEL_REASONS, STRATEGIES
from store.validation import Boolean, Choice, Field, FieldError, Integer, ListOf, Nested, Schema

STEP_STRATEGIES = ("auto",) + STRATEGIES
MAX_STEP_HOURS = 24 * 90  # a step later than 90 days after the churn is not a win-back any more
DEFAULT_CAMPAIGN = {
    "enabled": False,
    "reasons": None,  # null: every cancel reason
    "min_mrr_cents": 0,
    "holdout_percent": 10,
    "steps": [{"after_hours": 1, "strategy": "auto"}, {"after_hours": 72, "strategy": "auto"},
              {"after_hours": 240, "strategy": "auto"}],
}


class Number(Field):
    """A JSON number (whole or fractional) within [minimum, maximum]."""

    type_name = "number"

    def __init__(self, minimum: float, maximum: float, exclusive_minimum: bool = False, **kw):
        super().__init__(**kw)
        self.minimum, self.maximum, self.exclusive_minimum = minimum, maximum, exclusive_minimum

    def convert(self, value, path, from_query):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise FieldError("must be a number")
        if value < self.minimum or (self.exclusive_minimum and value == self.minimum):
            raise FieldError(f"must be {'more than' if self.exclusive_minimum else 'at least'} {self.minimum:g}")
        if value > self.maximum:
            raise FieldError(f"must be at most {self.maximum:g}")
        return value

    def _schema(self):
        bound = "exclusiveMinimum" if self.exclusive_minimum else "minimum"
        return {"type": "number", bound: self.minimum, "maximum": self.maximum}


STEP = Schema({
    "after_hours": Number(0, MAX_STEP_HOURS, exclusive_minimum=True, required=True,
                          description="hours after the customer joined the campaign"),
    "strategy": Choice(STEP_STRATEGIES, default="auto"),
})
class StepList(ListOf):
    """The campaign's emails, in order: each step later than the one before."""

    def __init__(self, **kw):
        super().__init__(Nested(STEP), min_items=1, max_items=5, **kw)

    def convert(self, value, path, from_query):
        steps = super().convert(value, path, from_query)
        hours = [step["after_hours"] for step in steps]
        if any(later <= earlier for earlier, later in zip(hours, hours[1:])):
            raise FieldError("after_hours must grow from each step to the next")
        return steps


CAMPAIGN_SETTINGS = Schema({
    "enabled": Boolean(),
    "reasons": ListOf(Choice(CANCEL_REASONS), min_items=1, max_items=len(CANCEL_REASONS), nullable=True,
                      description="cancel reasons that join; null: all"),
    "min_mrr_cents": Integer(minimum=0, maximum=10**12),
    "holdout_percent": Number(0, 50),
    "steps": StepList(),
})


class CampaignSettings(Nested):
    """The `campaign` field of a project's settings, as `PATCH /projects/:slug` takes it (merged
    key by key into the stored one; `steps` and `reasons` are replaced whole)."""

    def __init__(self, **kw):
        super().__init__(CAMPAIGN_SETTINGS, **kw)


def effective_campaign(stored: dict | None) -> dict:
    """The stored campaign settings with the defaults for what they leave out."""
    merged = {**DEFAULT_CAMPAIGN, **(stored if isinstance(stored, dict) else {})}
    merged["steps"] = [dict(step) for step in merged["steps"]]
    return merged


def customer_key(customer_id: str | None, customer_email: str | None) -> str | None:
    """What identifies the customer for the split: their id, else their lower-cased email."""
    if customer_id:
        return f"id:{customer_id}"
    if customer_email:
        return f"email:{customer_email.lower()}"
    return None


def split_position(project_id: str, key: str) -> float:
    """A number in [0, 100) fixed by (project, customer): SHA-256, its first 8 bytes as an integer,
    scaled. The same customer lands in the same place on every churn and in every process."""
    digest = hashlib.sha256(f"{project_id}\x00{key}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100


def group_for(project_id: str, key: str, holdout_percent: float) -> str:
    return "holdout" if split_position(project_id, key) < holdout_percent else "treatment"


def matches(campaign: dict, cancel_reason: str | None, mrr_cents: int | None) -> bool:
    """Whether a churn with this reason and MRR joins the campaign (enabled, reason listed, MRR high enough)."""
    if not campaign.get("enabled"):
        return False
    reasons = campaign.get("reasons")
    if reasons is not None and cancel_reason not in reasons:
        return False
    return (mrr_cents or 0) >= int(campaign.get("min_mrr_cents") or 0)
