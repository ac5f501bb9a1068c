"""The OpenAI writer: one chat-completions request for all nine emails as structured JSON.

Only the `CopyBrief` goes to the model (first name, plan, reason, brand, offer): never the
customer's email address, id or metadata. The answer is checked field by field; the model writes
plain text and the HTML is built here by escaping it, so a model can never inject markup. Any
failure (HTTP error, timeout, malformed or incomplete JSON) falls back to the template writer, and
the result carries a warning saying so.
"""
from __future__ import annotations

import json
import logging
import re

import openai

from config import Settings
from services.writers import PAIRS, STRATEGIES, TONES, CopyBrief, Draft, Written, text_to_html
from services.writers.dunning import DunningBrief, DunningEmail, ensure_link, write_template

log = logging.getLogger("windback.writer")
DEFAULT_BASE_URL = "https://api.openai.com/v1"
MAX_RETRIES = 1  # one retry on connection errors, 429 and 5xx; the SDK backs off in between
MAX_SUBJECT = 200
MAX_BODY = 6000
# Bracketed or braced placeholders a model sometimes leaves in: "[Name]", "{first_name}", "<Brand>".
_PLACEHOLDER = re.compile(r"\{[A-Za-z_ ]+\}|\[(?:first ?name|name|brand|company|plan|offer|your name)\]|"
                          r"<(?:first ?name|name|brand|company|plan|offer)>", re.IGNORECASE)

RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "variants": {
            "type": "array",
            "minItems": 9,
            "maxItems": 9,
            "items": {
                "type": "object",
                "properties": {
                    "strategy": {"type": "string", "enum": list(STRATEGIES)},
                    "tone": {"type": "string", "enum": list(TONES)},
                    "subject": {"type": "string"},
                    "body_text": {"type": "string"},
                },
                "required": ["strategy", "tone", "subject", "body_text"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["variants"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = (
    "You write win-back emails for a software company whose customer cancelled. Write nine short, "
    "warm, human emails in plain text (no HTML, no markdown, no placeholders): one for each pair of "
    "strategy (discount_offer: present the given offer concretely; value_reminder: remind them what "
    "they get; personal_check_in: ask what went wrong, like a person would) and tone (friendly, "
    "professional, urgent). Use the customer's first name if given, the plan, the cancel reason and "
    "the brand; in value_reminder emails, name the features they used most (most_used_features, if "
    "given). Never invent discounts other than the given offer. Subjects under 90 characters. "
    "Sign off as the brand's team."
)


class WriterAnswerInvalid(ValueError):
    pass


def brief_message(brief: CopyBrief) -> str:
    """The only customer data the model sees (of their activity: feature names and counts)."""
    message = {
        "first_name": brief.first_name,
        "plan": brief.plan,
        "cancel_reason": brief.reason,
        "brand": brief.brand,
        "offer": brief.offer,
    }
    if brief.usage:
        message["most_used_features"] = [{"event": name, "count": count} for name, count in brief.usage]
    return json.dumps(message, ensure_ascii=False)


def parse_answer(content: str | None) -> list[Draft]:
    """The model's JSON, checked field by field: exactly the nine pairs, sane text."""
    if not content:
        raise WriterAnswerInvalid("the answer was empty")
    try:
        data = json.loads(content)
    except ValueError:
        raise WriterAnswerInvalid("the answer was not valid JSON") from None
    items = data.get("variants") if isinstance(data, dict) else None
    if not isinstance(items, list) or len(items) != 9:
        raise WriterAnswerInvalid("the answer did not hold exactly nine variants")
    drafts: dict[tuple[str, str], Draft] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise WriterAnswerInvalid(f"variant {index} is not an object")
        strategy, tone = item.get("strategy"), item.get("tone")
        subject, body = item.get("subject"), item.get("body_text")
        if strategy not in STRATEGIES or tone not in TONES:
            raise WriterAnswerInvalid(f"variant {index} has an unknown strategy or tone")
        if (strategy, tone) in drafts:
            raise WriterAnswerInvalid(f"variant {index} repeats {strategy}/{tone}")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT:
            raise WriterAnswerInvalid(f"variant {index} has no usable subject")
        if not isinstance(body, str) or len(body.strip()) < 20 or len(body) > MAX_BODY:
            raise WriterAnswerInvalid(f"variant {index} has no usable body")
        if _PLACEHOLDER.search(subject) or _PLACEHOLDER.search(body):
            raise WriterAnswerInvalid(f"variant {index} contains an unfilled placeholder")
        subject = " ".join(subject.split())  # a header is one line
        body = body.strip().replace("\r\n", "\n")
        drafts[(strategy, tone)] = Draft(strategy, tone, subject, body, text_to_html(body))
    return [drafts[pair] for pair in PAIRS]


class OpenAIWriter:
    def __init__(self, settings: Settings, fallback):
        self.model = settings.openai_model
        self.name = f"openai:{self.model}"
        self.fallback = fallback
        self.timeout = settings.openai_timeout
        # The SDK's retries with backoff, plus a margin: the generation claim must outlive this.
        self.max_seconds = self.timeout * (MAX_RETRIES + 1) + 10.0
        # The base URL is always passed, so the SDK never picks one up from the environment
        # (configuration lives in `config/` only).
        self.client = openai.AsyncOpenAI(api_key=settings.openai_api_key,
                                         base_url=settings.openai_base_url or DEFAULT_BASE_URL,
                                         timeout=self.timeout, max_retries=MAX_RETRIES)

    async def write(self, brief: CopyBrief) -> Written:
        try:
            drafts = await self._ask(brief)
        except Exception as error:  # noqa: BLE001 - whatever went wrong, the event still gets nine
            reason = _describe(error)
            log.warning("OpenAI writer failed (%s); using the template writer", reason)
            written = await self.fallback.write(brief)
            written.warnings.append(f"The AI writer ({self.model}) failed: {reason}. "
                                    "These variants were written by the built-in templates.")
            return written
        return Written(drafts, generator=self.name)

    async def write_dunning(self, brief: DunningBrief) -> DunningEmail:
        return await write_dunning_with(self, brief)

    async def _ask(self, brief: CopyBrief) -> list[Draft]:
        response = await self.client.chat.completions.create(
            model=self.model,
            messages=[{"role": "system", "content": SYSTEM_PROMPT},
                      {"role": "user", "content": brief_message(brief)}],
            response_format={"type": "json_schema",
                             "json_schema": {"name": "recovery_emails", "schema": RESPONSE_SCHEMA, "strict": True}},
        )
        choices = getattr(response, "choices", None) or []
        if not choices or choices[0].message is None:
            raise WriterAnswerInvalid("the answer had no message")
        message = choices[0].message
        if getattr(message, "refusal", None):
            raise WriterAnswerInvalid("the model refused")
        return parse_answer(message.content)


DUNNING_SCHEMA = {
    "type": "object",
    "properties": {"subject": {"type": "string"}, "body_text": {"type": "string"}},
    "required": ["subject", "body_text"],
    "additionalProperties": False,
}
DUNNING_PROMPT = (
    "You write one short plain-text email (no HTML, no markdown, no placeholders) to a subscriber "
    "whose payment failed. Name the amount exactly as given and include the update link exactly as "
    "given. Tone by `firmness`: first = a friendly heads-up; reminder = a clear reminder; final = a "
    "firm last notice that the subscription will be cancelled if it stays unpaid. Use the first name "
    "if given; sign off as the brand's team. Subject under 90 characters."
)


async def write_dunning_with(writer: "OpenAIWriter", brief: DunningBrief) -> DunningEmail:
    """One dunning email from the model; the template's on any failure or unusable answer."""
    try:
        response = await writer.client.chat.completions.create(
            model=writer.model,
            messages=[{"role": "system", "content": DUNNING_PROMPT},
                      {"role": "user", "content": json.dumps({
                          "first_name": brief.first_name, "brand": brief.brand, "amount": brief.amount,
                          "update_link": brief.update_payment_url, "firmness": brief.firmness}, ensure_ascii=False)}],
            response_format={"type": "json_schema",
                             "json_schema": {"name": "dunning_email", "schema": DUNNING_SCHEMA, "strict": True}},
        )
        data = json.loads(response.choices[0].message.content or "")
        subject, body = data.get("subject"), data.get("body_text")
        if (not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT
                or not isinstance(body, str) or not 20 <= len(body.strip()) <= MAX_BODY
                or _PLACEHOLDER.search(subject) or _PLACEHOLDER.search(body) or brief.amount not in body):
            raise WriterAnswerInvalid("the dunning email was unusable (no amount, or malformed)")
    except Exception as error:  # noqa: BLE001 - the customer still gets the template's email
        log.warning("OpenAI writer failed for a dunning email (%s); using the template", _describe(error))
        return write_template(brief)
    return DunningEmail(" ".join(subject.split()), ensure_link(body.strip().replace("\r\n", "\n"), brief),
                        writer.name)


def _describe(error: BaseException) -> str:
    if isinstance(error, WriterAnswerInvalid):
        return str(error)
    if isinstance(error, openai.APITimeoutError):
        return "it did not answer in time"
    if isinstance(error, openai.APIStatusError):
        return f"it answered HTTP {error.status_code}"
    if isinstance(error, openai.APIConnectionError):
        return "it could not be reached"
    return "it answered something unusable"
