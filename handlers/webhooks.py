"""`/webhooks/{stripe,razorpay,custom}/:publicKey` (docs/webhooks.md): verify, store durably, answer.

The signature is checked over the raw body before anything is stored; the verified delivery is
committed (group commit) before the 200 answer; the project's actor applies it afterwards.
"""
from __future__ import annotations

import datetime as dt
import json

from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.errors import ApiError, bad_request, not_found
from handlers.responses import BOOLEAN, Documented, Returns, obj
from store.input_rules import text_problem
from store.validation import ValidationFailed, validation_error
from services.webhooks import verify
from store import webhook_mapping as mapping
from store.webhook_custom_schemas import custom_schema
from services.webhooks.intake import intake_for
from store.webhooks import Delivery

PROVIDER_NAMES = {"stripe": "Stripe", "razorpay": "Razorpay", "custom": "custom"}
WEBHOOKS_PATH = "/api/v1/webhooks"  # + /<provider>/<public key>


def webhook_urls(public_url: str, public_key: str) -> dict[str, str]:
    """Each provider's URL for a project, as its servers reach us (WINDBACK_PUBLIC_URL)."""
    return {provider: f"{public_url}{WEBHOOKS_PATH}/{provider}/{public_key}" for provider in PROVIDER_NAMES}


def invalid_signature(message: str) -> ApiError:
    return ApiError(400, "INVALID_SIGNATURE", message)


def parse_json(text: str):
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise bad_request("The body is not valid JSON", "body") from None


class WebhookHandler(BaseHandler):
    """A provider's signed event (Stripe, Razorpay, or Standard Webhooks for custom senders)."""

    rules = {"POST": PUBLIC}
    # The body is the provider's own event, checked against its signature, not a schema of ours.
    body_schemas = {"POST": Documented({"type": "object", "description": "the provider's event, as signed"})}
    response_schemas = {"POST": Returns(obj({"received": BOOLEAN, "duplicate": BOOLEAN}),
                                        description="Stored durably (or already stored: duplicate)")}
    rate_limit_group = "webhooks"
    _text: str | None = None

    def rate_limit_key(self) -> str:
        return "pub:" + self.path_kwargs["public_key"][:128]

    async def post(self, provider: str, public_key: str):
        intake = intake_for(self.ctx)
        project = await intake.project(public_key)
        if project is None:
            # Unknown keys also spend the client IP's tokens, so guessing keys is limited too.
            self.apply_rate_limit("ip:" + self.client_ip)
            raise not_found("Webhook endpoint")
        secret = project.secrets.get(provider)
        if not secret:
            raise ApiError(400, "VALIDATION_ERROR",
                           f"No {PROVIDER_NAMES[provider]} webhook secret is configured for this project: set "
                           f"settings.{provider}_webhook_secret with PATCH /api/v1/projects/:slug",
                           [{"field": f"settings.{provider}_webhook_secret", "message": "is not set"}])
        delivery = getattr(self, f"read_{provider}")(project.project_id, secret)
        stored = await intake.store(delivery)
        if not stored.duplicate and delivery.status == "received":
            intake.kick(project.project_id)
        await self.reply({"received": True, "duplicate": stored.duplicate})

    # --- one reader per provider: verify, then take the event's id, type and time ------------

    def read_stripe(self, project_id: str, secret: str) -> Delivery:
        body = self.request.body
        try:
            verify.verify_stripe(body, self.request.headers.get("Stripe-Signature"), secret)
        except verify.InvalidSignature as error:
            raise invalid_signature(str(error)) from None
        event = parse_json(self.text_body())
        if not isinstance(event, dict):
            raise bad_request("A Stripe event is a JSON object", "body")
        event_id, event_type = event.get("id"), event.get("type")
        if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
            raise bad_request("A Stripe event needs a string id and type", "id")
        return self._delivery(project_id, "stripe", event_id, event_type, mapping.from_unix(event.get("created")))

    def read_razorpay(self, project_id: str, secret: str) -> Delivery:
        body = self.request.body
        try:
            verify.verify_razorpay(body, self.request.headers.get("X-Razorpay-Signature"), secret)
        except verify.InvalidSignature as error:
            raise invalid_signature(str(error)) from None
        event = parse_json(self.text_body())
        if not isinstance(event, dict) or not isinstance(event.get("event"), str):
            raise bad_request("A Razorpay event needs an `event` name", "event")
        return self._delivery(project_id, "razorpay", mapping.razorpay_event_identity(event, body), event["event"],
                              mapping.from_unix(event.get("created_at")))

    def read_custom(self, project_id: str, secret: str) -> Delivery:
        headers = self.request.headers
        try:
            sent_at = verify.verify_standard(self.request.body, headers.get("webhook-id"),
                                             headers.get("webhook-timestamp"), headers.get("webhook-signature"),
                                             secret)
        except verify.InvalidSignature as error:
            raise invalid_signature(str(error)) from None
        event = parse_json(self.text_body())
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise bad_request('A custom event needs a "type" ("churn" or "recovered")', "type")
        schema = custom_schema(event)
        if schema is not None:
            try:
                schema.clean(event)  # a sender's mistake is answered now, not stored
            except ValidationFailed as failed:
                raise validation_error(failed.details) from None
        return self._delivery(project_id, "custom", headers["webhook-id"], event["type"], mapping.from_unix(sent_at))

    def text_body(self) -> str:
        """The verified body as text: UTF-8 only, since the payload is stored as text."""
        if self._text is None:
            try:
                self._text = self.request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise bad_request("The body is not UTF-8", "body") from None
        return self._text

    def _delivery(self, project_id: str, provider: str, event_id: str, event_type: str,
                  occurred_at: dt.datetime | None) -> Delivery:
        if len(event_id) > 255:
            raise bad_request("The event id is longer than 255 characters", "id")
        for field, value in (("id", event_id), ("type", event_type)):
            problem = text_problem(value)
            if problem:
                raise bad_request(f"The event {field} {problem}", field)
        status = "received" if event_type in mapping.HANDLED_TYPES[provider] else "ignored"
        return Delivery(project_id, provider, event_id, event_type, self.text_body(), occurred_at, status)


default_handlers = [
    (WEBHOOKS_PATH + r"/(?P<provider>stripe|razorpay|custom)/(?P<public_key>[^/]+)", WebhookHandler),
]
