"""The Customers pages in the browser: the at-risk list says why, and a customer's page draws
their daily activity as an SVG chart above the timeline."""
from __future__ import annotations

from tests.dashboard_support import call, signed_in_page, signup
from tests.test_customers import known_set


def test_the_at_risk_list_says_why_and_the_customer_page_draws_the_activity(live_server, browser):
    base = live_server().url
    owner = signup(base, "olive@example.com", name="Olive Owner")
    status, created = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=owner)
    assert status == 201
    assert call(base, "POST", "/track", {"events": known_set()}, key=created["data"]["secret_key"])[0] == 202

    page, watch = signed_in_page(browser, base, owner)
    page.goto(base + "/app/projects/acme")
    page.get_by_role("link", name="Customers").click()
    at_risk = page.locator("section", has_text="At risk now (1)")
    at_risk.wait_for()
    row = at_risk.locator("tr", has_text="cus_fading")
    assert "high risk · 8" in row.inner_text().lower()  # the badge capitalises
    assert "Activity fell 86%" in row.inner_text() and "cancel or billing pages 2 times" in row.inner_text()
    assert page.locator("tr", has_text="cus_steady").get_by_text("Nothing unusual").is_visible()

    row.get_by_role("link", name="cus_fading").click()
    page.get_by_role("heading", name="Activity, last 60 days").wait_for()
    chart = page.locator("svg.chart.activity")
    assert chart.get_attribute("aria-label").startswith("Tracked events a day over the last 60 days")
    assert chart.locator("rect").count() == 60
    assert page.locator(".timeline li").first.inner_text().endswith("cancel_page_viewed ×2")
    watch.assert_clean()
