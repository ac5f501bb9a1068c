"""Fixtures and steps shared by the billing tests: the fake providers wired into the server's
settings, connecting a project, and a customer accepting an offer in the widget."""
from __future__ import annotations

import hashlib
import hmac

import pytest

from tests.billing_fakes import FakeRazorpay, FakeStripe

STRIPE_KEY = "sk_test_windback_0000004f2a"
OFFERS = {
    "too_expensive": {"type": "discount", "percent_off": 20, "months": 3, "razorpay_offer_id": "offer_20off"},
    "temporary": {"type": "pause", "months": 2},
    "missing_features": {"type": "downgrade", "to_plan": "Starter", "price_cents": 900,
                         "stripe_price_id": "price_starter", "razorpay_plan_id": "plan_starter"},
}


@pytest.fixture
def stripe_fake(test_env):
    fake = FakeStripe(STRIPE_KEY).start()
    test_env["WINDBACK_STRIPE_API_BASE"] = fake.url
    test_env["WINDBACK_BILLING_TIMEOUT"] = "1"
    yield fake
    fake.stop()


@pytest.fixture
def razorpay_fake(test_env):
    fake = FakeRazorpay().start()
    test_env["WINDBACK_RAZORPAY_API_BASE"] = fake.url
    test_env["WINDBACK_BILLING_TIMEOUT"] = "1"
    yield fake
    fake.stop()


def auth_hash(identity_secret: str, customer_id: str) -> str:
    """What the merchant's server computes (docs/widget.md)."""
    return hmac.new(identity_secret.encode(), customer_id.encode(), hashlib.sha256).hexdigest()


def billing_settings(fake) -> dict:
    if isinstance(fake, FakeStripe):
        return {"provider": "stripe", "stripe_api_key": fake.api_key}
    return {"provider": "razorpay", "razorpay_key_id": fake.key_id, "razorpay_key_secret": fake.key_secret}


async def connected_project(api, fake, slug="acme", offers=None, **billing_extra):
    """An owner's project with billing connected to `fake` and the test offers configured.
    Returns (token, project, identity_secret)."""
    token, project = await api.owner(slug)
    r = await api.patch(f"/projects/{slug}", {"settings": {
        "billing": {**billing_settings(fake), **billing_extra},
        "cancel_flow": {"offers": offers or OFFERS}}}, token=token)
    assert r.status == 200, r
    r = await api.get(f"/projects/{slug}", token=token)
    return token, project, r.data["identity_secret"]


def widget_answer(project, customer_id, identity_secret=None, reason="too_expensive", accepted=True, **fields):
    body = {"public_key": project["public_key"], "customer_email": f"{customer_id}@example.com",
            "customer_id": customer_id, "reason": reason, "offer_shown": True, "offer_accepted": accepted, **fields}
    if identity_secret is not None:
        body["auth_hash"] = auth_hash(identity_secret, customer_id)
    return body
