"""The dashboard's "Failed payments" page in a real browser: open recoveries with amount, emails
and next email, the monthly figures, one recovery's timeline, and stopping it."""
from __future__ import annotations

from tests.dashboard_support import XSS_NAME, call, signed_in_page, signup
from tests.webhook_support import CUSTOM_SECRET, custom_headers, encode


def failed_payment(base, public_key, invoice, amount, email, name):
    payload = encode({"type": "payment_failed", "customer_email": email, "customer_name": name,
                      "invoice_id": invoice, "amount_due_cents": amount, "currency": "EUR",
                      "update_payment_url": f"https://billing.example/pay/{invoice}"})
    status, body = call(base, "POST", f"/webhooks/custom/{public_key}", raw=payload, headers=custom_headers(payload))
    assert status == 200, body


def test_failed_payments_page_lists_shows_a_timeline_and_stops(live_server, browser):
    base = live_server(env={"WINDBACK_SCHEDULER_POLL_SECONDS": "0.1"}).url
    owner = signup(base, "olive@example.com", name="Olive Owner")
    status, project = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=owner)
    assert status == 201
    status, _ = call(base, "PATCH", "/projects/acme", {"settings": {
        "custom_webhook_secret": CUSTOM_SECRET, "dunning": {"steps": [{"after_hours": 0}, {"after_hours": 48}]}}},
        token=owner)
    assert status == 200
    failed_payment(base, project["data"]["public_key"], "inv_1", 4200, "ada@example.com", XSS_NAME)
    failed_payment(base, project["data"]["public_key"], "inv_2", 990, "bo@example.com", "Bo Berg")

    page, watch = signed_in_page(browser, base, owner)
    page.goto(base + "/app/projects/acme")
    page.get_by_role("link", name="Failed payments").click()
    table = page.locator("#recoveries-table")
    table.wait_for()
    row = table.locator("tr", has_text="ada@example.com")
    assert XSS_NAME in row.inner_text(), "a customer's name is shown as text"
    assert "€42" in row.inner_text() and "€9.90" in table.inner_text()
    page.wait_for_function("() => document.querySelector('#stat-open .stat-value')?.textContent === '2'")
    page.locator("#recovery-months tr", has_text="0%").wait_for()

    row.get_by_role("link").click()
    timeline = page.locator("#recovery-timeline")
    timeline.wait_for()
    assert "failed (custom, invoice inv_1" in timeline.inner_text()
    page.locator("#recovery-timeline li[data-step='1'][data-status='scheduled']").wait_for()
    page.get_by_role("button", name="Stop emails").click()
    page.get_by_role("dialog").get_by_role("button", name="Stop").click()
    page.locator("#recovery-timeline li[data-step='1'][data-status='cancelled']").wait_for()
    assert page.locator("#stop-recovery").count() == 0
    status, body = call(base, "GET", "/projects/acme/payment-recoveries?status=stopped", token=owner)
    assert [r["invoice_id"] for r in body["data"]] == ["inv_1"]
    watch.assert_clean()
