"""Signature checks, one per provider, over the raw body exactly as received.

Each returns nothing or raises `InvalidSignature` with a message safe to show the sender (it never
contains the secret or the expected signature).
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

import razorpay
import stripe

STRIPE_TOLERANCE = 300  # seconds; older signed timestamps are refused (replay protection)
STANDARD_TOLERANCE = 300  # Standard Webhooks: 5 minutes either way

# The SDK's helper needs no credentials; one instance serves every request.
_razorpay_utility = razorpay.Client(auth=("", "")).utility


class InvalidSignature(Exception):
    pass


def verify_stripe(body: bytes, header: str | None, secret: str) -> None:
    """Stripe's own check, `stripe.WebhookSignature.verify_header`, with the project's `whsec_`
    secret and a 300 s tolerance: exactly what `stripe.Webhook.construct_event` runs before it
    builds a `stripe.Event`. We stop there because building that object tree costs ~450 us a
    delivery (more than a whole bare Tornado request) and we use the plain JSON anyway
    (docs/webhooks.md, "Verification")."""
    if not header:
        raise InvalidSignature("The Stripe-Signature header is missing")
    try:
        stripe.WebhookSignature.verify_header(body, header, secret, STRIPE_TOLERANCE)
    except stripe.SignatureVerificationError as error:
        raise InvalidSignature(f"Stripe signature verification failed: {_first_sentence(error)}") from None
    except UnicodeDecodeError:
        raise InvalidSignature("The body is not UTF-8, so it cannot carry a valid Stripe signature") from None


def verify_razorpay(body: bytes, signature: str | None, secret: str) -> None:
    """The Razorpay SDK's `verify_webhook_signature`: hex HMAC-SHA256 of the raw body."""
    if not signature:
        # The SDK raises TypeError on a missing (None) header: refuse it first.
        raise InvalidSignature("The X-Razorpay-Signature header is missing")
    try:
        text = body.decode("utf-8")
        signature.encode("ascii")  # compare_digest refuses non-ASCII str with TypeError
    except (UnicodeDecodeError, UnicodeEncodeError):
        raise InvalidSignature("Razorpay signature verification failed") from None
    try:
        _razorpay_utility.verify_webhook_signature(text, signature, secret)
    except razorpay.errors.SignatureVerificationError:
        raise InvalidSignature("Razorpay signature verification failed") from None


def standard_secret_bytes(secret: str) -> bytes:
    """`whsec_<base64>` is decoded after the prefix, as Standard Webhooks does; any other secret
    is used as its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[len("whsec_"):], validate=True)
        except (binascii.Error, ValueError):
            pass  # not base64 after all: use it as text, like any other secret
    return secret.encode("utf-8")


def sign_standard(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of id.timestamp.body>` (also used by tests and the docs)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    mac = hmac.new(standard_secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def verify_standard(body: bytes, msg_id: str | None, timestamp: str | None, signature: str | None,
                    secret: str, now: float | None = None) -> int:
    """Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Returns the
    timestamp (Unix seconds)."""
    if not msg_id or not timestamp or not signature:
        missing = [name for name, value in (("webhook-id", msg_id), ("webhook-timestamp", timestamp),
                                            ("webhook-signature", signature)) if not value]
        raise InvalidSignature(f"Missing header: {', '.join(missing)}")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise InvalidSignature("webhook-timestamp must be Unix seconds") from None
    if abs((time.time() if now is None else now) - sent_at) > STANDARD_TOLERANCE:
        raise InvalidSignature("webhook-timestamp is more than 5 minutes away from now")
    expected = sign_standard(secret, msg_id, sent_at, body).split(",", 1)[1].encode()
    for entry in signature.split():
        version, _, given = entry.partition(",")
        if version == "v1" and hmac.compare_digest(expected, given.encode("utf-8", "replace")):
            return sent_at
    raise InvalidSignature("No webhook-signature entry matches the body")


def _first_sentence(error: Exception) -> str:
    text = str(getattr(error, "user_message", None) or error)
    return text.split(". ")[0].rstrip(".")
