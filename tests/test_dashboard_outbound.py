"""Settings → Outbound webhooks in the browser: an admin adds an endpoint (the signing secret
shown once), sends a test event that a real receiver verifies, sees the delivery with its status
and last answer, disables the endpoint and deletes it."""
from __future__ import annotations

from tests.dashboard_support import call, signed_in_page, signup
from tests.outbound_support import OUTBOUND_ENV, Receiver


def test_an_admin_manages_outbound_webhooks_from_settings(live_server, browser):
    receiver = Receiver(statuses=[500])  # the first answer fails, the retry succeeds
    try:
        base = live_server(env=OUTBOUND_ENV).url
        token = signup(base, "wendy@example.com", name="Wendy Admin")
        assert call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)[0] == 201
        page, watch = signed_in_page(browser, base, token)
        page.goto(base + "/app/projects/acme/settings")
        section = page.locator("#outbound-webhooks")
        section.get_by_label("URL").fill(receiver.url)
        section.get_by_label("All events").uncheck()
        section.get_by_label("churn_event.created").check()
        section.get_by_role("button", name="Add endpoint").click()
        secret = section.locator("#endpoint-secret").input_value()
        assert secret.startswith("whsec_")
        card = section.locator("article.endpoint")
        assert "churn_event.created" in card.inner_text() and secret not in card.inner_text()

        card.get_by_role("button", name="Send test event").click()
        card.locator("tr[data-status]").first.wait_for()
        page.reload()
        row = card.locator("tr[data-status=succeeded]", has_text="200")
        row.wait_for()  # answered 500, retried 5 ms later (retry scale 0.001), then 200
        assert row.locator("td").nth(3).inner_text() == "2"
        assert [event["type"] for event in receiver.events(secret)] == ["webhook_endpoint.test"] * 2

        row.get_by_role("button", name="Retry").click()
        page.get_by_text("Delivery queued again.").wait_for()
        page.wait_for_function("() => document.querySelector('#outbound-webhooks tr[data-status] td:nth-child(4)')"
                               ".textContent === '3'")
        assert len(receiver.received) == 3 and len({h["webhook-id"] for h, _ in receiver.received}) == 1

        card.get_by_role("button", name="Disable").click()
        card.get_by_role("button", name="Enable").wait_for()
        endpoint = call(base, "GET", "/projects/acme/webhook-endpoints", token=token)[1]["data"][0]
        assert endpoint["enabled"] is False
        card.get_by_role("button", name="Delete").click()
        page.get_by_role("dialog").get_by_role("button", name="Delete").click()
        section.locator("article.endpoint").wait_for(state="detached")
        assert call(base, "GET", "/projects/acme/webhook-endpoints", token=token)[1]["data"] == []
        watch.assert_clean()
        page.context.close()
    finally:
        receiver.close()
