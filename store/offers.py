"""Save offers in words: the one place their wording lives.

An offer is what `settings.cancel_flow.offers` holds per reason (docs/widget.md): `{type:
"discount", percent_off, months}`, `{type: "pause", months}` or `{type: "downgrade", to_plan,
price_cents?}`. The widget shows it as a headline (`offer_headline`, templates also handed to the
dashboard's live preview); a recovery email names it in a phrase (`describe_offer`) and says how
to take it (`ACCEPT_BY_REPLY`, or `with_accept_link` when the email carries a one-click link).

Applying an offer in the merchant's billing account (docs/offers.md) needs the provider's own ids
for it: `BILLING_FIELDS` lists them per offer type (the cancel-flow settings accept them).
"""
from __future__ import annotations

import re

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


# The provider ids an offer may carry so Windback can apply it in the merchant's Stripe or
# Razorpay account (docs/offers.md): a Razorpay offer for a discount, the target plan's price
# (Stripe) or plan (Razorpay) for a downgrade. Stripe discounts need none (a coupon is made).
BILLING_FIELDS = {
    "discount": ("razorpay_offer_id",),
    "pause": (),
    "downgrade": ("stripe_price_id", "razorpay_plan_id"),
}

# How a discount email tells the customer to take the offer, per tone: by replying. `{plan_phrase}`
# is the template writer's ("your Pro plan").
ACCEPT_BY_REPLY = {
    "friendly": "Reply to this email and we'll set it up for you, no forms, no hoops.",
    "professional": "To accept, simply reply to this message and we will apply it to your account.",
    "urgent": "If you want it, reply today and we'll switch {plan_phrase} back on with the offer applied.",
}
# ... or, when Windback applies the offer itself (billing connected), by the email's accept link.
ACCEPT_BY_LINK = "Accept the offer in one click: {url}"


def _reply_pattern(sentence: str) -> re.Pattern:
    return re.compile(re.escape(sentence).replace(re.escape("{plan_phrase}"), r"[^\n]+?"))


_REPLY_PATTERNS = tuple(_reply_pattern(sentence) for sentence in ACCEPT_BY_REPLY.values())


def with_accept_link(body_text: str, url: str) -> str:
    """A discount email's text telling the customer to click `url` instead of replying: the
    reply sentence gives way to the link's, which is added at the end when the writer worded
    the email otherwise (the OpenAI writer)."""
    link = ACCEPT_BY_LINK.format(url=url)
    for pattern in _REPLY_PATTERNS:
        replaced, count = pattern.subn(lambda _: link, body_text, count=1)
        if count:
            return replaced
    return body_text.rstrip() + f"\n\n{link}\n"
