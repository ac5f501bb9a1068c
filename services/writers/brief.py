"""Building a writer's `CopyBrief` from a churn event and its project's settings.

Offers come from `settings.cancel_flow.offers` (docs/widget.md), read defensively: a missing or
malformed entry falls back to the default 20%-for-3-months discount, so a `discount_offer`
email always names a concrete offer. Their wording is `store/offers.py`.
"""
from __future__ import annotations

from services.writers import CopyBrief
from store.offers import DEFAULT_DISCOUNT, DEFAULT_OFFERS, describe_offer

__all__ = ["describe_offer", "make_brief", "pick_offer"]

def first_name_of(full_name: str | None) -> str | None:
    """The first word of the name; whitespace (newlines included) never survives into a subject."""
    if not full_name:
        return None
    words = full_name.split()
    return words[0][:60] if words else None


def pick_offer(settings: dict, reason: str | None, currency: str = "USD") -> str:
    """The offer for this reason; else the project's discount; else the default discount."""
    cancel_flow = settings.get("cancel_flow") if isinstance(settings.get("cancel_flow"), dict) else {}
    offers = cancel_flow.get("offers") if isinstance(cancel_flow.get("offers"), dict) else {}
    candidates = []
    if reason:
        candidates.append(offers.get(reason, DEFAULT_OFFERS.get(reason)))
    candidates.extend(o for o in offers.values() if isinstance(o, dict) and o.get("type") == "discount")
    candidates.append(offers.get("too_expensive"))
    for candidate in candidates:
        described = describe_offer(candidate, currency)
        if described:
            return described
    return describe_offer(DEFAULT_DISCOUNT)


def usage_of(top_events: list[dict] | None) -> tuple[tuple[str, int], ...]:
    """The customer's most used features as (name, count): the event name on one line, short."""
    return tuple((" ".join(str(e["name"]).split())[:60], int(e["count"])) for e in (top_events or [])[:3]
                 if str(e.get("name", "")).strip() and int(e.get("count", 0)) > 0)


def make_brief(*, customer_name: str | None, plan: str | None, reason: str | None, currency: str,
               project_name: str, settings: dict, usage: list[dict] | None = None) -> CopyBrief:
    brand = settings.get("brand_name") if isinstance(settings.get("brand_name"), str) else None
    return CopyBrief(
        first_name=first_name_of(customer_name),
        plan=" ".join(plan.split())[:80] if plan else None,
        reason=reason,
        brand=" ".join((brand or project_name).split())[:80] or project_name,
        offer=pick_offer(settings, reason, currency),
        usage=usage_of(usage),
    )
