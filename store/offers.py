"""Save offers in words: the one place their wording lives.

An offer is what `settings.cancel_flow.offers` holds per reason (docs/widget.md): `{type:
"discount", percent_off, months}`, `{type: "pause", months}` or `{type: "downgrade", to_plan,
price_cents?}`. The widget shows it as a headline (`offer_headline`, templates also handed to the
dashboard's live preview); a recovery email names it in a phrase (`describe_offer`).
"""
from __future__ import annotations

DEFAULT_DISCOUNT = {"type": "discount", "percent_off": 20, "months": 3}
DEFAULT_OFFERS = {"too_expensive": DEFAULT_DISCOUNT, "temporary": {"type": "pause", "months": 3}}

# The widget's headline of an offer that has none of its own. `{s}` pluralises "month";
# `{price}` is PRICE_SUFFIX when the offer has a price, else empty.
HEADLINES = {
    "discount": "Stay and get {percent_off}% off for the next {months} month{s}",
    "pause": "Pause your subscription for up to {months} month{s} instead",
    "downgrade": "Switch to the {to_plan} plan{price} instead",
}
PRICE_SUFFIX = " for {amount} a month"


def amount_text(cents: int) -> str:
    """Minor units as a plain decimal amount: 900 -> "9.00"."""
    return f"{cents // 100}.{cents % 100:02d}"


def offer_headline(offer: dict) -> str:
    """The widget's headline for a validated offer."""
    months = offer.get("months") or 1
    price = offer.get("price_cents")
    values = {**offer, "s": "s" if months > 1 else "",
              "price": PRICE_SUFFIX.format(amount=amount_text(price)) if price is not None else ""}
    return HEADLINES[offer["type"]].format(**values)


def _int_in(value, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return None
    return value


def describe_offer(offer, currency: str = "USD") -> str | None:
    """An offer in an email's words ("20% off your next 3 months"); None when it is not a usable
    offer (settings are read defensively: they may predate validation)."""
    if not isinstance(offer, dict):
        return None
    kind = offer.get("type")
    if kind == "discount":
        percent, months = _int_in(offer.get("percent_off"), 1, 100), _int_in(offer.get("months"), 1, 24)
        if percent is None or months is None:
            return None
        span = "your next month" if months == 1 else f"your next {months} months"
        return f"{percent}% off {span}"
    if kind == "pause":
        months = _int_in(offer.get("months"), 1, 6)
        if months is None:
            return None
        return "a free pause of up to 1 month" if months == 1 else f"a free pause of up to {months} months"
    if kind == "downgrade":
        to_plan = offer.get("to_plan")
        if not isinstance(to_plan, str) or not to_plan.strip():
            return None
        price = _int_in(offer.get("price_cents"), 0, 10**9)
        plan = " ".join(to_plan.split())[:60]
        if price is None:
            return f"a move to our {plan} plan"
        return f"a move to our {plan} plan at {amount_text(price)} {currency} a month"
    return None
