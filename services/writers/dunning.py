"""Dunning emails: what a customer whose payment failed reads, one email per step of the sequence.

The template wording grows firmer step by step: the first email is a friendly heads-up, the
middle ones a reminder, the last one says the subscription ends if nothing changes. Every email
names the amount and carries the link to update the payment method. The writer sees only a
`DunningBrief`: first name, brand, amount in words, the link and the step; never the address.
"""
from __future__ import annotations

from dataclasses import dataclass

# ISO 4217 currencies without minor units: the amount is stored as is.
ZERO_DECIMAL = frozenset({"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND",
                          "VUV", "XAF", "XOF", "XPF"})


@dataclass(frozen=True)
class DunningBrief:
    first_name: str | None
    brand: str
    amount: str  # e.g. "49.00 USD"
    update_payment_url: str | None
    step: int  # 0-based
    steps: int  # how many steps the sequence has

    @property
    def firmness(self) -> str:
        if self.step == 0:
            return "first"
        return "final" if self.step >= self.steps - 1 else "reminder"


@dataclass(frozen=True)
class DunningEmail:
    subject: str
    body_text: str
    generator: str  # "template" or "openai:<model>"


def format_amount(cents: int, currency: str) -> str:
    currency = (currency or "USD").upper()
    if currency in ZERO_DECIMAL:
        return f"{cents:,} {currency}"
    return f"{cents / 100:,.2f} {currency}"


COPY = {
    "first": (
        "Your {brand} payment of {amount} didn't go through",
        "Hi {name},\n\nWe tried to charge {amount} for your {brand} subscription, but the payment didn't go "
        "through. It happens: cards expire, banks get cautious.\n\nYou can update your payment details "
        "here, it takes a minute:\n{link}\n\nYour account keeps working in the meantime.\n\nThanks,\n"
        "The {brand} team",
    ),
    "reminder": (
        "Reminder: {amount} for {brand} is still unpaid",
        "Hi {name},\n\nA quick reminder: the payment of {amount} for your {brand} subscription is still "
        "outstanding, and our retries have not gone through.\n\nPlease update your payment details "
        "so that nothing is interrupted:\n{link}\n\nIf something is wrong with the charge, just reply "
        "to this email.\n\nThe {brand} team",
    ),
    "final": (
        "Final notice: your {brand} subscription will end ({amount} unpaid)",
        "Hi {name},\n\nThis is our last reminder. The payment of {amount} for your {brand} subscription "
        "has failed several times, and your subscription will be cancelled if it stays unpaid.\n\n"
        "Update your payment details now to keep your account and your data:\n{link}\n\n"
        "The {brand} team",
    ),
}
NO_LINK = "(reply to this email and we will send you a link)"


def write_template(brief: DunningBrief) -> DunningEmail:
    """Values are substituted once: a brand or name containing `{...}` stays literal text."""
    subject, body = COPY[brief.firmness]
    values = {"brand": brief.brand, "amount": brief.amount, "name": brief.first_name or "there",
              "link": brief.update_payment_url or NO_LINK}
    return DunningEmail(" ".join(subject.format_map(values).split()), body.format_map(values), "template")


def ensure_link(body: str, brief: DunningBrief) -> str:
    """A written body always carries the update link (appended when a model left it out)."""
    if brief.update_payment_url and brief.update_payment_url not in body:
        body = body.rstrip() + f"\n\nUpdate your payment details: {brief.update_payment_url}\n"
    return body
