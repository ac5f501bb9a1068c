"""The cancel flow's public door (docs/widget.md): the widget's config and its answers.

Both endpoints take a project's public key (never a secret one), answer any origin (CORS, with
`OPTIONS` preflight) and are limited to 10 requests per 15 s per key and client IP; the answers
to one key also share a ceiling of 600 per 15 s (docs/widget.md). The config is
served from an in-process cache of ready-made answers; a settings change or a key rotation
forgets the project's entries at once in this process (`ctx.change_listeners`) and within about a
second in the others (services/change_feed.py). Churn events and webhooks do not touch it: the
config holds none of their data.
"""
from __future__ import annotations

import json

from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.billing import BILLING_ACTION_OUT
from handlers.errors import not_found
from handlers.responses import ANY_OBJECT, BOOLEAN, STRING, Returns, list_of, obj
from services.billing.offers import answer_with_offer
from services.project_cache import ProjectScopedCache
from store.validation import Boolean, Choice, Email, Field, FieldError, JsonObject, Schema, String
from store import cancel_flow
from store.db import run_db
from store.models import CANCEL_REASONS

MAX_KEY_LENGTH = 100
ANSWERS_TO = "answers:"  # rate-limit keys of the answers to one public key


def config_cache(ctx) -> ProjectScopedCache:
    """Public key -> `PublicConfig`, forgotten per project on change."""
    return ctx.service("cancel_flow_config", lambda: ProjectScopedCache(ctx.settings.project_cache_size),
                       forgets_projects=True)


async def public_config(ctx, public_key: str) -> cancel_flow.PublicConfig | None:
    """The config of a live public key, from the cache or the store (None: unknown key)."""
    if not public_key.startswith("pub_") or len(public_key) > MAX_KEY_LENGTH:
        return None  # a secret key in the public slot is never looked up
    cache = config_cache(ctx)
    config = cache.get(public_key)
    if config is None:
        generation = cache.generation()
        config = await run_db(cancel_flow.load_public_config, public_key)
        if config is not None:
            # A rotated key's entry ends with its grace period.
            cache.put(public_key, config.project_id, config, generation, expires_at=config.key_expires_at)
    return config


class CancelFlowHandler(BaseHandler):
    rate_limit_group = "cancel_flow"

    def set_default_headers(self) -> None:
        super().set_default_headers()
        # Every answer, errors included: the widget runs on the customer's own origin.
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
        self.set_header("Access-Control-Allow-Headers", "Content-Type, If-None-Match")
        self.set_header("Access-Control-Expose-Headers",
                        "ETag, Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset")
        self.set_header("Access-Control-Max-Age", "86400")

    def apply_rate_limit(self, key: str, cost: int = 1, group: str | None = None) -> None:
        # A preflight is the browser's, not the customer's: it shows the bucket but spends nothing.
        super().apply_rate_limit(key, 0 if self.request.method == "OPTIONS" else cost, group)

    async def options(self, *args, **kwargs) -> None:
        self.set_status(204)
        self.clear_header("Content-Type")
        self.finish()

    async def config_or_404(self, public_key: str) -> cancel_flow.PublicConfig:
        config = await public_config(self.ctx, public_key)
        if config is None:
            # Unknown keys also spend the client IP's tokens, so guessing keys is limited too.
            self.apply_rate_limit("ip:" + self.client_ip)
            raise not_found("Cancel flow (unknown public key)")
        return config


CONFIG_OUT = obj({"project": obj({"name": STRING, "brand_name": STRING}), "reasons": list_of(ANY_OBJECT),
                  "offers": ANY_OBJECT, "copy": ANY_OBJECT, "theme": ANY_OBJECT}, required=("project", "reasons", "offers"),
                 extra=True)
ANSWER_OUT = obj({"churn_event_id": STRING, "saved": BOOLEAN, "billing_action": BILLING_ACTION_OUT},
                 required=("churn_event_id", "saved"))
PREFLIGHT = Returns(None, status=204, description="CORS preflight")


class ConfigHandler(CancelFlowHandler):
    """The cancel-flow widget's configuration for a public key (CORS, cacheable)."""

    rules = {"GET": PUBLIC, "OPTIONS": PUBLIC}
    response_schemas = {"GET": Returns(CONFIG_OUT, not_modified=True, headers=("ETag",)), "OPTIONS": PREFLIGHT}

    def rate_limit_key(self) -> str:
        # Per key and client: every end user's browser fetches the config, so one bucket per key
        # for all of them would refuse a busy site's users (docs/widget.md).
        return f"pub:{self.path_kwargs['public_key'][:MAX_KEY_LENGTH]}|ip:{self.client_ip}"

    async def get(self, public_key: str) -> None:
        config = await self.config_or_404(public_key)
        self.set_header("Cache-Control", "public, max-age=60")
        if not self.not_modified(config.etag):
            self.finish(config.body)


class OfferShown(Field):
    """`true`/`false`, or the offer object as the widget showed it."""

    def convert(self, value, path, from_query):
        if isinstance(value, bool):
            return value
        if isinstance(value, dict):
            return JsonObject(max_bytes=4096).convert(value, path, from_query)
        raise FieldError("must be true, false or the offer object shown")


ANSWER = Schema({
    "public_key": String(min_length=1, max_length=MAX_KEY_LENGTH, required=True),
    "customer_email": Email(required=True),
    "customer_id": String(max_length=200, nullable=True),
    "reason": Choice(CANCEL_REASONS, required=True),
    "detail": String(max_length=5000, nullable=True, multiline=True),
    "offer_shown": OfferShown(nullable=True),
    "offer_accepted": Boolean(default=False),
    # Identity verification and the subscription to change (docs/offers.md).
    "auth_hash": String(min_length=1, max_length=128, nullable=True),
    "subscription_id": String(max_length=200, nullable=True),
}, check=lambda answer: ([{"field": "offer_shown", "message": "cannot be false when the offer was accepted"}]
                         if answer["offer_accepted"] and answer.get("offer_shown") is False else []))


class ReasonsHandler(CancelFlowHandler):
    """The widget's answer: a reason, and whether an offer was accepted."""

    rules = {"POST": PUBLIC, "OPTIONS": PUBLIC}
    body_schemas = {"POST": ANSWER}
    response_schemas = {"POST": Returns(ANSWER_OUT, status=201, also=(200,),
                                        description="201: a churn event created; 200: the open one updated"),
                        "OPTIONS": PREFLIGHT}

    def rate_limit_key(self) -> str:
        """The public key in the body and the client IP (the limit comes before validation)."""
        try:
            key = json.loads(self.request.body or b"null").get("public_key")
        except (ValueError, AttributeError, UnicodeDecodeError, RecursionError):
            key = None
        if not isinstance(key, str) or not key:
            return "ip:" + self.client_ip
        return f"{ANSWERS_TO}{key[:MAX_KEY_LENGTH]}|ip:{self.client_ip}"

    def apply_rate_limit(self, key: str, cost: int = 1, group: str | None = None) -> None:
        super().apply_rate_limit(key, cost, group)
        if group is None and key.startswith(ANSWERS_TO):
            # Then the key's ceiling: second, so a client refused above spends none of it. The
            # headers keep describing the client's own bucket unless the ceiling refuses.
            own = self._rate_headers
            super().apply_rate_limit(key.partition("|ip:")[0], cost, group="cancel_flow_key")
            if own:
                self._set_rate_headers(own)

    async def post(self) -> None:
        answer = self.parse_body(ANSWER)
        config = await self.config_or_404(answer.pop("public_key"))
        applied = await answer_with_offer(self.ctx, config.project_id, answer)
        if applied is not None:  # the offer was applied in the merchant's billing account
            await self.reply(applied)
            return
        result, created = await self.ctx.actors.project(config.project_id).record_cancel_flow_answer(answer)
        await self.reply(result, status=201 if created else 200)


default_handlers = [
    (r"/api/v1/cancel-flow/config/(?P<public_key>[^/]+)", ConfigHandler),
    (r"/api/v1/cancel-flow/reasons", ReasonsHandler),
]
