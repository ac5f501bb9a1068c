"""Writing and sending recovery emails: the slow parts, run between the project actor's claim
and commit so that a slow model or mail server never holds the actor (docs/emails.md).

    generate: actor.claim_generation -> writer.write (here, on the IOLoop, async) -> actor.commit_generation
    send:     actor.claim_send -> mailer.send (async SMTP or outbox) -> actor.mark_variant_sent / _failed
"""
from __future__ import annotations

import email.headerregistry
import email.policy
import email.utils
import html
import logging

from store.errors import UpstreamFailed
from services.context import Context
from services.mailer import DeliveryFailed, build_message
from services.security import sign_payload, verify_signed_payload
from services.writers.brief import make_brief

log = logging.getLogger("windback.recovery")
UNSUBSCRIBE_PURPOSE = "unsubscribe"
# A send holds its variant at most this long; then a crashed send can be retried.
SEND_CLAIM_SECONDS = 120.0


class UnfoldedHeader(email.headerregistry.UnstructuredHeader):
    """`List-Unsubscribe` holds a URL longer than 78 characters. Folding it would turn it into
    RFC 2047 encoded words, which mail clients do not read as a URL; RFC 5322 allows 998."""

    def fold(self, *, policy):
        return f"{self.name}: {self}{policy.linesep}"


_registry = email.headerregistry.HeaderRegistry()
_registry.map_to_type("list-unsubscribe", UnfoldedHeader)
MAIL_POLICY = email.policy.default.clone(header_factory=_registry)


# --- generate -----------------------------------------------------------------------------------

async def generate_variants(ctx: Context, project_id: str, event_id: str) -> tuple[list[dict], list[str]]:
    """Nine new variants for the event, and any warnings (e.g. the AI writer fell back)."""
    actor = ctx.actors.project(project_id)
    claim, inputs = await actor.claim_generation(event_id, ctx.writer.max_seconds + 30.0)
    try:
        written = await ctx.writer.write(make_brief(**inputs))
        variants = await actor.commit_generation(event_id, claim, written.drafts, written.generator)
    except Exception:
        # E.g. the event was recovered meanwhile (409): the commit rolled back, so free the claim.
        await actor.release_generation(event_id, claim)
        raise
    return variants, written.warnings


# --- send ---------------------------------------------------------------------------------------

def unsubscribe_token(secret: str, project_id: str, email_address: str) -> str:
    return sign_payload({"p": project_id, "e": email_address}, secret, UNSUBSCRIBE_PURPOSE)


def read_unsubscribe_token(secret: str, token: str) -> tuple[str, str] | None:
    payload = verify_signed_payload(token, secret, UNSUBSCRIBE_PURPOSE)
    if not payload or not isinstance(payload.get("p"), str) or not isinstance(payload.get("e"), str):
        return None
    return payload["p"], payload["e"]


def unsubscribe_url(ctx: Context, project_id: str, email_address: str) -> str:
    token = unsubscribe_token(ctx.secret, project_id, email_address)
    return f"{ctx.settings.public_url}/api/v1/unsubscribe?token={token}"


def with_footer(text: str, body_html: str, url: str) -> tuple[str, str]:
    """The visible unsubscribe link, in both parts."""
    text = text.rstrip() + f"\n\n-- \nDon't want these emails? Unsubscribe: {url}\n"
    link = (f'<p style="font-size: 12px; color: #6e7781;">Don\'t want these emails? '
            f'<a href="{html.escape(url)}">Unsubscribe</a></p>')
    lowered = body_html.lower()
    at = lowered.rfind("</body>")
    body_html = body_html[:at] + link + "\n" + body_html[at:] if at >= 0 else body_html + "\n" + link
    return text, body_html


def compose(ctx: Context, project_id: str, parts: dict, message_id: str | None = None):
    sender = parts["mail_from"] or ctx.settings.mail_from
    address = email.utils.parseaddr(sender)[1]
    domain = address.rpartition("@")[2] if "@" in address else "windback.local"
    name = " ".join((parts.get("customer_name") or "").split())
    url = unsubscribe_url(ctx, project_id, parts["to"])
    text, body_html = with_footer(parts["body_text"], parts["body_html"], url)
    return build_message(
        sender, email.utils.formataddr((name, parts["to"])) if name else parts["to"], parts["subject"],
        text, body_html, domain=domain, policy=MAIL_POLICY,
        headers={"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        message_id=message_id,
    )


async def send_variant(ctx: Context, project_id: str, event_id: str, variant_id: str) -> dict:
    """Send one variant. 200: accepted by the mail server. 502 DELIVERY_FAILED: the variant is
    `failed` and may be sent again."""
    actor = ctx.actors.project(project_id)
    parts = await actor.claim_send(event_id, variant_id, SEND_CLAIM_SECONDS)
    try:
        message = compose(ctx, project_id, parts)
        message_id = await ctx.mailer.send(message)
    except DeliveryFailed as error:
        await actor.mark_variant_failed(event_id, variant_id, parts["claim"], str(error))
        raise UpstreamFailed(f"The email was not sent: {error}") from None
    except Exception as error:
        await actor.mark_variant_failed(event_id, variant_id, parts["claim"], "the email could not be built")
        if isinstance(error, (ValueError, TypeError)):
            log.warning("variant %s could not be turned into an email: %s", variant_id, error)
            raise UpstreamFailed("The email could not be built from this variant") from None
        raise
    return await actor.mark_variant_sent(event_id, variant_id, parts["claim"], message_id)
