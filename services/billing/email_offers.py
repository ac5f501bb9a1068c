"""Offers in emails: the one-click accept link of a `discount_offer` variant, and what accepting
it does (docs/offers.md "Offers in emails").

- A subscription still running (set to cancel or not) gets the discount and, when it was set to
  cancel, runs on: the churn event becomes `recovered` by the variant whose link was used.
- An ended one: a Stripe Checkout Session for the former price with the coupon, whose metadata
  names the variant; the recovery is recorded when Stripe's webhook for the new subscription
  arrives (store/webhook_effects.py attributes it to that variant).
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from services.billing.credentials import credential_box
from services.billing.offers import carry_out, connected, in_pool
from services.billing.providers import BillingRefused, billing_client
from store import billing as store
from store import offer_links
from store.cancel_flow import effective_settings
from store.churn_events import get_event
from store.db import run_db
from store.errors import Conflict, UpstreamFailed
from services.writers import text_to_html
from store.keys import new_token, sha256_hex
from store.models import Project
from store.offers import with_accept_link
from store.projects import project_settings


@dataclass
class Outcome:
    """What the accept page shows: a page (status, title, words) or a redirect (to Checkout)."""

    status: int
    title: str
    message: str
    redirect: str | None = None


def email_discount(settings: dict, reason: str | None) -> dict:
    """The discount an email offers: the reason's own, else the project's first, else the default."""
    offers = effective_settings(settings.get("cancel_flow"))["offers"]
    discounts = [offers.get(reason)] + list(offers.values())
    return next((o for o in discounts if o and o["type"] == "discount"),
                {"type": "discount", "percent_off": 20, "months": 3})


def _link_context(project_id: str, event_id: str) -> tuple[dict, dict, str | None]:
    settings = project_settings(Project.get_by_id(project_id))
    event = get_event(project_id, event_id)
    billing = settings.get("billing") if isinstance(settings.get("billing"), dict) else {}
    return billing, email_discount(settings, event.cancel_reason), event.customer_id


async def add_offer_links(ctx, project_id: str, event_id: str, variants: list[dict]) -> list[dict]:
    """Put an accept link in each new `discount_offer` variant, when Windback can apply it
    (billing connected and the customer's billing id known). Returns the variants as stored."""
    billing, offer, customer_id = await run_db(_link_context, project_id, event_id)
    targets = [v for v in variants if v["strategy"] == "discount_offer" and v["status"] == "draft"]
    if not connected(billing) or not customer_id or not targets:
        return variants
    links, words = [], {}
    for variant in targets:
        token = new_token()
        url = f"{ctx.settings.public_url}/offers/{token}"
        text = with_accept_link(variant["body_text"], url)
        escaped = html.escape(url)
        body_html = text_to_html(text).replace(escaped, f'<a href="{escaped}">{escaped}</a>')
        links.append({"variant_id": variant["id"], "token_hash": sha256_hex(token), "body_text": text,
                      "body_html": body_html})
        words[variant["id"]] = (text, body_html)
    changed = set(await ctx.actors.project(project_id).attach_offer_links(event_id, offer, links))
    return [{**v, "body_text": words[v["id"]][0], "body_html": words[v["id"]][1]} if v["id"] in changed else v
            for v in variants]


def offer_words(offer: dict) -> str:
    months = offer["months"]
    return f"{offer['percent_off']}% off your next {months} month{'s' if months > 1 else ''}"


def _closed_link(link: dict | None) -> Outcome | None:
    if link is None:
        return Outcome(404, "Offer not found", "This offer link is not known. Check that the whole link was copied.")
    if link["state"] == "used":
        return Outcome(410, "Offer already used", "This offer link was already used; it works once.")
    if link["state"] == "expired":
        return Outcome(410, "Offer expired", "This offer link has expired (links work for 30 days).")
    return None


async def show(token: str) -> tuple[Outcome, dict | None]:
    """What GET shows; changes nothing."""
    link = await run_db(offer_links.link_state, sha256_hex(token))
    closed = _closed_link(link)
    if closed:
        return closed, None
    return Outcome(200, "Your offer", f"{offer_words(link['offer'])}, if you come back."), link


async def accept(ctx, token: str) -> Outcome:
    token_hash = sha256_hex(token)
    link = await run_db(offer_links.link_state, token_hash)
    closed = _closed_link(link)
    if closed:
        return closed
    _, billing = await run_db(store.billing_profile, link["project_id"])
    event = await run_db(get_event, link["project_id"], link["churn_event_id"])
    if not connected(billing) or not event.customer_id:
        return Outcome(409, "Reply to the email", "This offer cannot be applied automatically; reply to the "
                       "email and we will set it up for you.")
    if not await run_db(offer_links.claim_link, token_hash):
        return Outcome(410, "Offer already used", "This offer link was already used; it works once.")
    try:
        client = billing_client(billing["provider"], credential_box(ctx).open(billing["credentials"]), ctx.settings)
        kind = await in_pool(ctx, client.winback_kind, event.customer_id)
        action = await ctx.actors.project(link["project_id"]).begin_billing_action({
            "customer_id": event.customer_id, "provider": billing["provider"], "kind": kind, "channel": "email",
            "offer": link["offer"], "cooldown_days": billing["offer_cooldown_days"],
            "churn_event_id": event.id, "variant_id": link["variant_id"]})
        finished = await carry_out(ctx, action, billing)
    except (BillingRefused, UpstreamFailed, Conflict) as error:
        await run_db(offer_links.release_link, token_hash)
        title = "Offer not available" if isinstance(error, Conflict) else "Offer not applied"
        return Outcome(409 if isinstance(error, Conflict) else 502, title, error.message)
    if finished["status"] != "applied":
        await run_db(offer_links.release_link, token_hash)
        return Outcome(502, "Offer not applied", f"We could not apply your offer: {finished['error']}")
    if finished.get("checkout_url"):
        return Outcome(303, "Continue to checkout", "", redirect=finished["checkout_url"])
    return Outcome(200, "Welcome back", f"{offer_words(link['offer'])} is on your account, and your "
                   "subscription continues.")
