"""Offers in emails: a discount email's one-click link. Opening it changes nothing; Accept
reactivates a running subscription with the discount (recovered by that variant) or, for one that
ended, opens a Stripe Checkout Session whose webhook later records the recovery; a link works
once, for 30 days; and one offer per customer holds across the widget and the emails."""
import datetime as dt
import re
import time

import pytest

from store.billing import BillingAction
from store.db import unit_of_work
from store.offer_links import OfferLink
from store.offers import with_accept_link
from tests.billing_support import STRIPE_KEY, connected_project, stripe_fake, widget_answer  # noqa: F401
from tests.helpers import count
from tests.webhook_support import STRIPE_SECRET, encode, settled, stripe_event, stripe_headers, stripe_subscription

LINK = re.compile(r"http://windback\.test/offers/([A-Za-z0-9_\-]+)")


async def discount_email(api, token, customer_id="cus_1", reason="too_expensive"):
    """A churn event with variants written; returns (event, the discount variant, its link token)."""
    r = await api.post("/projects/acme/churn-events", {"customer_email": f"{customer_id}@example.com",
                                                        "customer_id": customer_id, "cancel_reason": reason,
                                                        "mrr_cents": 4900}, token=token)
    assert r.status == 201, r
    event = r.data
    r = await api.post(f"/projects/acme/churn-events/{event['id']}/generate", token=token)
    assert r.status == 201, r
    discounts = [v for v in r.data if v["strategy"] == "discount_offer"]
    assert len(discounts) == 3
    for variant in r.data:
        assert bool(LINK.search(variant["body_text"])) == (variant["strategy"] == "discount_offer")
    for discount in discounts:  # the link replaces "reply to this email" (store/offers.py)
        assert "reply" not in discount["body_text"].lower(), discount["body_text"]
        assert "Accept the offer in one click: http://windback.test/offers/" in discount["body_text"]
    variant = discounts[0]
    token_ = LINK.search(variant["body_text"]).group(1)
    assert f"/offers/{token_}" in variant["body_html"]
    assert len(token_) >= 22  # >= 128 random bits, url-safe
    return event, variant, token_


async def page(api, method, path):
    r = await api.request(method, "/offers/" + path if not path.startswith("/") else path,
                          headers={"Accept": "text/html"})
    return r


@pytest.mark.gen_test
async def test_get_changes_nothing_accept_reactivates_with_the_discount_and_a_second_use_is_refused(stripe_fake, api):
    token, project, _ = await connected_project(api, stripe_fake)
    sub = stripe_fake.add_subscription("cus_1", cancel_at_period_end=True)
    event, variant, link = await discount_email(api, token)
    with unit_of_work():
        assert OfferLink.get_by_id(__import__("hashlib").sha256(link.encode()).hexdigest()).expires_at > \
            dt.datetime.utcnow() + dt.timedelta(days=29)
    assert count(OfferLink) == 3 and not count(OfferLink, OfferLink.token_hash == link)  # stored hashed
    for _ in range(2):  # a mail scanner and the customer both open it
        r = await api.client.fetch(f"{api.base}/offers/{link}", raise_error=False)
        assert r.code == 200 and b"20% off your next 3 months" in r.body and b"Accept the offer" in r.body
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["Content-Type"].startswith("text/html")
    assert stripe_fake.requests == [] and count(BillingAction) == 0
    assert (await api.get(f"/projects/acme/churn-events/{event['id']}", token=token)).data["status"] == "variants_ready"

    r = await api.client.fetch(f"{api.base}/offers/{link}/accept", method="POST", body=b"", raise_error=False)
    assert r.code == 200 and b"Welcome back" in r.body, r.body
    (update,) = stripe_fake.writes()
    assert update.form == {"discounts[0][coupon]": "windback_20off_3m", "cancel_at_period_end": "false"}
    assert sub["cancel_at_period_end"] is False
    (action,) = (await api.get("/projects/acme/billing-actions", token=token)).data
    assert (action["kind"], action["channel"], action["status"], action["variant_id"]) == (
        "reactivate", "email", "applied", variant["id"])
    assert update.headers["idempotency-key"] == action["id"]
    recovered = (await api.get(f"/projects/acme/churn-events/{event['id']}", token=token)).data
    assert recovered["status"] == "recovered" and recovered["recovered_by_variant_id"] == variant["id"]

    r = await api.client.fetch(f"{api.base}/offers/{link}/accept", method="POST", body=b"", raise_error=False)
    assert r.code == 410 and b"already used" in r.body
    r = await api.client.fetch(f"{api.base}/offers/{link}", raise_error=False)
    assert r.code == 410 and b"already used" in r.body
    r = await api.client.fetch(f"{api.base}/offers/{'x' * 43}", raise_error=False)
    assert r.code == 404 and b"not known" in r.body
    assert len(stripe_fake.writes()) == 1


@pytest.mark.gen_test
async def test_an_ended_subscription_goes_to_checkout_and_the_webhook_credits_the_variant(stripe_fake, api):
    token, project, _ = await connected_project(api, stripe_fake)
    await api.patch("/projects/acme", {"settings": {"stripe_webhook_secret": STRIPE_SECRET}}, token=token)
    stripe_fake.add_subscription("cus_1", status="canceled", price="price_pro")
    event, variant, link = await discount_email(api, token)
    r = await api.client.fetch(f"{api.base}/offers/{link}/accept", method="POST", body=b"", raise_error=False,
                               follow_redirects=False)
    assert r.code == 303
    (session_request,) = stripe_fake.writes("/v1/checkout/sessions")
    session_id = next(iter(stripe_fake.sessions))
    assert r.headers["Location"] == f"https://checkout.stripe.test/c/pay/{session_id}"
    (action,) = (await api.get("/projects/acme/billing-actions", token=token)).data
    assert session_request.form == {
        "mode": "subscription", "customer": "cus_1", "line_items[0][price]": "price_pro",
        "line_items[0][quantity]": "1", "discounts[0][coupon]": "windback_20off_3m",
        "metadata[windback_variant_id]": variant["id"], "metadata[windback_action_id]": action["id"],
        "subscription_data[metadata][windback_variant_id]": variant["id"],
        "subscription_data[metadata][windback_action_id]": action["id"],
        "success_url": "http://windback.test/offers/welcome", "cancel_url": "http://windback.test/offers/welcome"}
    assert (action["kind"], action["status"], action["provider_object_id"]) == ("checkout", "applied", session_id)
    assert (await api.get(f"/projects/acme/churn-events/{event['id']}", token=token)).data["status"] != "recovered"
    # Stripe's webhook for the new subscription records the recovery, credited to the variant.
    created = stripe_subscription(customer="cus_1", email="cus_1@example.com", amount=4900,
                                  metadata={"windback_variant_id": variant["id"]})
    body = encode(stripe_event("customer.subscription.created", created, created=int(time.time()) + 1))
    r = await api.post(f"/webhooks/stripe/{project['public_key']}", raw=body, headers=stripe_headers(body))
    assert r.status == 200, r
    await settled(project["id"])
    recovered = (await api.get(f"/projects/acme/churn-events/{event['id']}", token=token)).data
    assert recovered["status"] == "recovered" and recovered["recovered_by_variant_id"] == variant["id"]


@pytest.mark.gen_test
async def test_one_offer_per_customer_across_the_widget_and_the_email(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    stripe_fake.add_subscription("cus_1")
    event, variant, link = await discount_email(api, token, reason="temporary")
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="temporary"))
    assert r.status == 200, r
    r = await api.client.fetch(f"{api.base}/offers/{link}/accept", method="POST", body=b"", raise_error=False)
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert r.code == 409 and b"already applied" in r.body and today.encode() in r.body
    assert len(stripe_fake.writes()) == 1
    # The link was not spent by the refusal.
    r = await api.client.fetch(f"{api.base}/offers/{link}", raise_error=False)
    assert r.code == 200


@pytest.mark.gen_test
async def test_an_expired_link_says_so(stripe_fake, api):
    token, project, _ = await connected_project(api, stripe_fake)
    stripe_fake.add_subscription("cus_1")
    _, _, link = await discount_email(api, token)
    with unit_of_work():
        OfferLink.update(expires_at=dt.datetime(2020, 1, 1)).execute()
    for method in ("GET", "POST"):
        path = f"{api.base}/offers/{link}" + ("/accept" if method == "POST" else "")
        r = await api.client.fetch(path, method=method, body=b"" if method == "POST" else None, raise_error=False)
        assert r.code == 410 and b"expired" in r.body
    assert stripe_fake.requests == []


@pytest.mark.gen_test
async def test_no_link_without_billing_or_customer_id(stripe_fake, api):
    token, _ = await api.owner()
    r = await api.post("/projects/acme/churn-events", {"customer_email": "a@example.com", "customer_id": "cus_1"},
                       token=token)
    r = await api.post(f"/projects/acme/churn-events/{r.data['id']}/generate", token=token)
    assert r.status == 201 and not any(LINK.search(v["body_text"]) for v in r.data)


def test_an_email_worded_otherwise_gets_the_link_sentence_at_its_end():
    text = "Hi Ana,\n\nWe would love to have you back with 20% off.\n\nThe Acme team\n"
    assert with_accept_link(text, "http://windback.test/offers/abc") == (
        "Hi Ana,\n\nWe would love to have you back with 20% off.\n\nThe Acme team\n\n"
        "Accept the offer in one click: http://windback.test/offers/abc\n")
