"""Offers that act: an accepted offer in the widget, with a valid auth_hash and billing
connected, is applied in Stripe or Razorpay exactly as those providers document their APIs."""
import datetime as dt
import json

import pytest

from store.billing import BillingAction
from store.cancel_flow import CancelFlowSubmission
from store.models import ChurnEvent
from tests.billing_support import (auth_hash, connected_project, razorpay_fake, stripe_fake,  # noqa: F401
                                   widget_answer)
from tests.helpers import count


async def actions(api, token, **filters):
    query = "&".join(f"{k}={v}" for k, v in filters.items())
    r = await api.get(f"/projects/acme/billing-actions?{query}", token=token)
    assert r.status == 200, r
    return r.data


@pytest.mark.gen_test
async def test_stripe_discount_creates_the_coupon_once_and_undoes_a_pending_cancel(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    sub = stripe_fake.add_subscription("cus_1", cancel_at_period_end=True)
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret))
    assert r.status == 200, r
    action = r.data["billing_action"]
    assert r.data["saved"] is True and r.data["churn_event_id"] == action["churn_event_id"]
    assert action["id"].startswith("ba_") and action["status"] == "applied"
    assert (action["provider"], action["kind"], action["channel"]) == ("stripe", "discount", "widget")
    assert action["provider_object_id"] == sub["id"] and action["customer_id"] == "cus_1"
    coupon, update = stripe_fake.writes("/v1/coupons") + stripe_fake.writes()
    assert coupon.form == {"id": "windback_20off_3m", "percent_off": "20", "duration": "repeating",
                           "duration_in_months": "3", "name": "20% off for 3 months"}
    assert update.path == f"/v1/subscriptions/{sub['id']}"
    assert update.form == {"discounts[0][coupon]": "windback_20off_3m", "cancel_at_period_end": "false"}
    assert update.headers["idempotency-key"] == action["id"]
    assert update.headers["content-type"] == "application/x-www-form-urlencoded"
    assert action["params"] == {"subscription_id": sub["id"], "update": {
        "discounts": [{"coupon": "windback_20off_3m"}], "cancel_at_period_end": False}}
    assert sub["discounts"][0]["coupon"]["percent_off"] == 20 and sub["cancel_at_period_end"] is False
    event = (await api.get(f"/projects/acme/churn-events/{action['churn_event_id']}", token=token)).data
    assert event["status"] == "saved" and event["saved"] is True and event["source"] == "widget"
    assert count(CancelFlowSubmission, CancelFlowSubmission.offer_accepted == True) == 1  # noqa: E712
    # A second customer's discount reuses the project's coupon.
    stripe_fake.add_subscription("cus_2")
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_2", secret))
    assert r.status == 200, r
    assert len(stripe_fake.writes("/v1/coupons")) == 1
    assert stripe_fake.writes()[-1].form == {"discounts[0][coupon]": "windback_20off_3m"}


@pytest.mark.gen_test
async def test_stripe_pause_voids_collection_until_the_offer_ends(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    sub = stripe_fake.add_subscription("cus_1")
    before = dt.datetime.now(dt.timezone.utc)
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="temporary"))
    assert r.status == 200, r
    assert r.data["billing_action"]["kind"] == "pause"
    (update,) = stripe_fake.writes()
    assert set(update.form) == {"pause_collection[behavior]", "pause_collection[resumes_at]"}
    assert update.form["pause_collection[behavior]"] == "void"
    resumes = dt.datetime.fromtimestamp(int(update.form["pause_collection[resumes_at]"]), dt.timezone.utc)
    assert 58 <= (resumes - before).days <= 62  # the offer's two months
    assert sub["pause_collection"]["behavior"] == "void"
    assert not stripe_fake.writes("/v1/coupons")


@pytest.mark.gen_test
async def test_stripe_downgrade_moves_the_item_to_the_offer_price_on_the_named_subscription(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    stripe_fake.add_subscription("cus_1")
    named = stripe_fake.add_subscription("cus_1", price="price_team")
    foreign = stripe_fake.add_subscription("cus_other")
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="missing_features",
                                                              subscription_id=named["id"]))
    assert r.status == 200, r
    (update,) = stripe_fake.writes()
    assert update.path == f"/v1/subscriptions/{named['id']}"
    assert update.form == {"items[0][id]": named["items"]["data"][0]["id"], "items[0][price]": "price_starter"}
    assert named["items"]["data"][0]["price"]["id"] == "price_starter"
    # Another customer's subscription is never touched: their own active one is changed instead.
    stripe_fake.add_subscription("cus_3")
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_3", secret, reason="missing_features",
                                                              subscription_id=foreign["id"]))
    assert r.status == 200, r
    assert stripe_fake.writes()[-1].path != f"/v1/subscriptions/{foreign['id']}"
    assert foreign["items"]["data"][0]["price"]["id"] == "price_pro"


@pytest.mark.gen_test
@pytest.mark.parametrize("reason, kind, method, path_suffix, body", [
    ("temporary", "pause", "POST", "/pause", {"pause_at": "now"}),
    ("missing_features", "downgrade", "PATCH", "", {"plan_id": "plan_starter", "schedule_change_at": "now"}),
    ("too_expensive", "discount", "PATCH", "", {"offer_id": "offer_20off"}),
])
async def test_razorpay_offers(razorpay_fake, api, reason, kind, method, path_suffix, body):
    token, project, secret = await connected_project(api, razorpay_fake)
    razorpay_fake.add_subscription("cust_other")
    sub = razorpay_fake.add_subscription("cust_1")
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cust_1", secret, reason=reason))
    assert r.status == 200, r
    action = r.data["billing_action"]
    assert (action["provider"], action["kind"], action["status"]) == ("razorpay", kind, "applied")
    (write,) = [q for q in razorpay_fake.requests if q.method != "GET"]
    assert (write.method, write.path, write.form) == (method, f"/v1/subscriptions/{sub['id']}{path_suffix}", body)
    assert write.headers["content-type"] == "application/json"
    assert write.headers["authorization"] == "Basic " + __import__("base64").b64encode(
        f"{razorpay_fake.key_id}:{razorpay_fake.key_secret}".encode()).decode()
    assert action["provider_object_id"] == sub["id"]
    if kind == "pause":
        assert sub["status"] == "paused"


@pytest.mark.gen_test
async def test_auth_hash_absent_answers_as_before_and_wrong_is_refused(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    stripe_fake.add_subscription("cus_1")
    wrong = widget_answer(project, "cus_1", secret)
    wrong["auth_hash"] = auth_hash(secret, "cus_2")
    r = await api.post("/cancel-flow/reasons", wrong)
    assert r.status == 403 and "auth_hash" in r.error["message"]
    assert count(ChurnEvent) == 0 and count(BillingAction) == 0
    no_id = widget_answer(project, "cus_1", secret)
    del no_id["customer_id"]
    r = await api.post("/cancel-flow/reasons", no_id)
    assert r.status == 400 and r.error["details"][0]["field"] == "customer_id"
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1"))
    assert r.status == 201, r
    assert r.data["saved"] is True and "billing_action" not in r.data
    assert stripe_fake.requests == [] and count(BillingAction) == 0
    # A valid hash with a declined offer: recorded as usual, nothing sent.
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_9", secret, accepted=False))
    assert r.status == 201 and r.data["saved"] is False and stripe_fake.requests == []


@pytest.mark.gen_test
async def test_one_offer_per_customer_within_the_cooldown(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    stripe_fake.add_subscription("cus_1")
    first = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret))
    assert first.status == 200, first
    again = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="temporary"))
    assert again.status == 409 and again.error["code"] == "CONFLICT"
    today = dt.datetime.now(dt.timezone.utc).date()
    assert today.isoformat() in again.error["message"]
    assert (today + dt.timedelta(days=365)).isoformat() in again.error["message"]
    assert len(stripe_fake.writes()) == 1 and count(BillingAction) == 1
    # A shorter cooldown that has passed frees the customer for another offer.
    r = await api.patch("/projects/acme", {"settings": {"billing": {"offer_cooldown_days": 0}}}, token=token)
    assert r.status == 200 and r.data["settings"]["billing"]["connected"] is True
    later = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="temporary"))
    assert later.status == 200, later
    assert len(stripe_fake.writes()) == 2


@pytest.mark.gen_test
@pytest.mark.parametrize("failure, words", [
    ((402, {"error": {"type": "card_error", "code": "card_declined", "message": "Your card was declined."}}),
     "Stripe refused (HTTP 402): Your card was declined."),
    ((500, {"error": {"type": "api_error", "message": "Something went wrong on Stripe's end."}}),
     "Stripe refused (HTTP 500): Something went wrong on Stripe's end."),
    ("timeout", "Stripe did not answer within 1 s"),
])
async def test_a_provider_failure_saves_nothing_and_records_the_action_failed(stripe_fake, api, failure, words):
    token, project, secret = await connected_project(api, stripe_fake, offers={
        "temporary": {"type": "pause", "months": 2}})
    stripe_fake.add_subscription("cus_1")
    if failure == "timeout":
        stripe_fake.delay = 2.5
    else:
        stripe_fake.fail_next(*failure)
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="temporary"))
    assert r.status == 502 and r.error["code"] == "BILLING_FAILED", r
    assert r.error["message"] == words
    (action,) = await actions(api, token)
    assert action["status"] == "failed" and action["error"] == words and action["completed_at"]
    event = (await api.get(f"/projects/acme/churn-events/{action['churn_event_id']}", token=token)).data
    assert event["status"] == "new" and event["saved"] is False and event["cancel_reason"] == "temporary"
    # The failure let go of the customer's slot: trying again works once the provider does.
    stripe_fake.delay = 0
    r = await api.post("/cancel-flow/reasons", widget_answer(project, "cus_1", secret, reason="temporary"))
    assert r.status == 200, r
    assert r.data["billing_action"]["id"] != action["id"]
    assert [a["status"] for a in await actions(api, token, order="asc")] == ["failed", "applied"]
    # The customer's timeline counts the applied offer, not the failed attempt.
    customer = (await api.get("/projects/acme/customers/cus_1", token=token)).data
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert [(day["day"], day["billing_actions"]) for day in customer["timeline"]] == [(today, 1)]


@pytest.mark.gen_test
async def test_billing_actions_list_is_paged_and_filtered_for_members(stripe_fake, api):
    token, project, secret = await connected_project(api, stripe_fake)
    for customer in ("cus_1", "cus_2", "cus_3"):
        stripe_fake.add_subscription(customer)
        r = await api.post("/cancel-flow/reasons", widget_answer(project, customer, secret))
        assert r.status == 200, r
    r = await api.get("/projects/acme/billing-actions?per_page=2", token=token)
    assert r.json["meta"] == {"page": 1, "per_page": 2, "total": 3}
    assert [a["customer_id"] for a in r.data] == ["cus_3", "cus_2"]
    assert set(r.data[0]) == {"id", "churn_event_id", "variant_id", "customer_id", "provider", "kind", "channel",
                              "status", "provider_object_id", "params", "error", "created_at", "completed_at"}
    assert "sk_" not in json.dumps(r.data)
    only = await actions(api, token, customer_id="cus_2")
    assert [a["customer_id"] for a in only] == ["cus_2"]
    assert await actions(api, token, churn_event_id=only[0]["churn_event_id"]) == only
    assert await actions(api, token, status="failed") == []
    r = await api.get("/projects/acme/billing-actions?status=done", token=token)
    assert r.status == 400
    r = await api.get("/projects/acme/billing-actions", key=project["secret_key"])
    assert r.status == 200 and len(r.data) == 3
