"""Billing in the dashboard, in Chromium: connecting Stripe on the Settings page (the key shown
masked afterwards, the connection test's answer), the identity secret, and the event page listing
the billing actions taken for its customer."""
from __future__ import annotations

import pytest

from tests.billing_support import OFFERS, STRIPE_KEY, stripe_fake, widget_answer  # noqa: F401
from tests.dashboard_support import call, signed_in_page, signup

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_owner_connects_stripe_and_sees_the_actions_on_the_event_page(stripe_fake, live_server, browser):
    base = live_server().url
    token = signup(base, "olive@example.com")
    status, body = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)
    project = body["data"]
    call(base, "PATCH", "/projects/acme", {"settings": {"cancel_flow": {"offers": OFFERS}}}, token=token)

    page, watch = signed_in_page(browser, base, token)
    page.goto(base + "/app/projects/acme/settings")
    billing = page.locator("#billing")
    billing.wait_for()
    assert "Not connected" in billing.inner_text()
    billing.get_by_label("Secret or restricted key").fill(STRIPE_KEY)
    billing.get_by_role("button", name="Save billing").click()
    page.get_by_text("Billing settings saved.").wait_for()
    page.locator("#billing", has_text="Connected to Stripe").wait_for()
    assert page.locator("#billing input[name=stripe_api_key]").get_attribute("placeholder") == "set (sk_...4f2a)"
    assert STRIPE_KEY not in page.content()
    page.locator("#billing").get_by_role("button", name="Test connection").click()
    page.locator(".billing-test.ok").wait_for()
    assert page.locator(".billing-test").inner_text() == "✓ Connected to Stripe (test mode)"
    assert [(r.method, r.path) for r in stripe_fake.requests] == [("GET", "/v1/balance")]
    secret = page.get_by_label("Identity secret").input_value()
    assert secret.startswith("isec_")

    stripe_fake.add_subscription("cus_7")
    status, body = call(base, "POST", "/cancel-flow/reasons", widget_answer(project, "cus_7", secret))
    assert status == 200, body
    action = body["data"]["billing_action"]
    page.goto(f"{base}/app/projects/acme/events/{body['data']['churn_event_id']}")
    row = page.locator(f"#billing-actions tr[data-action={action['id']}]")
    row.wait_for()
    assert "Applied" in row.inner_text() and action["provider_object_id"] in row.inner_text()
    assert "discount (stripe)" in row.inner_text()
    watch.assert_clean()
