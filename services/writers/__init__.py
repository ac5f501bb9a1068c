"""Who writes the nine recovery emails of a churn event (docs/emails.md).

A `VariantWriter` turns a `CopyBrief` (only what the copy needs: first name, plan, reason, brand
and offer; never the customer's email address or metadata) into nine `Draft`s, one per
strategy x tone pair. `make_writer(settings)` picks the built-in template writer, or the OpenAI
writer when an API key is configured; the OpenAI writer falls back to the templates on failure.
"""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Protocol

from config import Settings
from store.models import STRATEGIES, TONES

PAIRS = tuple((strategy, tone) for strategy in STRATEGIES for tone in TONES)


@dataclass(frozen=True)
class CopyBrief:
    """Everything a writer may know about the customer: deliberately small."""

    first_name: str | None
    plan: str | None
    reason: str | None  # a cancel_reason code, or None
    brand: str
    offer: str  # the concrete offer in words, e.g. "20% off your next 3 months"
    # The customer's real use: up to three (tracked event name, count) of the last 90 days.
    usage: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class Draft:
    strategy: str
    tone: str
    subject: str
    body_text: str
    body_html: str


@dataclass
class Written:
    drafts: list[Draft]
    generator: str  # "template" or "openai:<model>"
    warnings: list[str] = field(default_factory=list)


class VariantWriter(Protocol):
    name: str
    # How long one `write` may take at most: the generation claim outlives it.
    max_seconds: float

    async def write(self, brief: CopyBrief) -> Written: ...


def text_to_html(text: str) -> str:
    """Plain text to simple, safe HTML: every character of the text is escaped, so a customer's
    name (or a model's answer) can never inject markup."""
    paragraphs = [p.strip() for p in text.replace("\r\n", "\n").split("\n\n") if p.strip()]
    body = "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paragraphs)
    return ('<!DOCTYPE html>\n<html><body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, '
            'sans-serif; font-size: 15px; line-height: 1.5; color: #1f2328;">\n' + body + "\n</body></html>")


def make_writer(settings: Settings) -> VariantWriter:
    from services.writers.template import TemplateWriter

    if settings.openai_api_key:
        from services.writers.openai_writer import OpenAIWriter

        return OpenAIWriter(settings, fallback=TemplateWriter())
    return TemplateWriter()
