"""The campaign in the browser: its settings with the summary in plain words, and the campaign
page showing the groups, the lift with its interval as a picture, and each email's record."""
from __future__ import annotations

from tests.dashboard_support import call, signed_in_page, signup
from tests.livehttp import wait_for

DEFAULT_SUMMARY = ("10% of customers get no email so you can see the lift; "
                   "the rest get up to three emails over ten days.")


def test_an_owner_sets_up_the_campaign_and_reads_its_lift(live_server, browser):
    base = live_server(env={"WINDBACK_SCHEDULER_POLL_SECONDS": "0.1"}).url
    token = signup(base, "olive@example.com", name="Olive Owner")
    status, body = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)
    assert status == 201
    key = body["data"]["secret_key"]

    page, watch = signed_in_page(browser, base, token)
    page.goto(base + "/app/projects/acme/settings")
    section = page.locator("#campaign")
    section.wait_for()
    summary = page.locator("#campaign #campaign-summary")
    assert summary.inner_text() == "The campaign is off: nobody gets an automatic email."
    section.get_by_label("Send win-back emails automatically").check()
    assert summary.inner_text() == DEFAULT_SUMMARY
    section.get_by_label("Holdout (% of customers who get no email)").fill("50")
    assert summary.inner_text().startswith("50% of customers get no email")
    section.get_by_role("button", name="Save campaign").click()
    page.get_by_text("Campaign saved.").wait_for()
    campaign = call(base, "GET", "/projects/acme", token=token)[1]["data"]["settings"]["campaign"]
    assert campaign["enabled"] is True and campaign["holdout_percent"] == 50
    assert [s["after_hours"] for s in campaign["steps"]] == [1, 72, 240]

    # Steps a second apart, a few customers, some of whom come back.
    status, _ = call(base, "PATCH", "/projects/acme", {"settings": {"campaign": {"steps": [{"after_hours": 0.0003}]}}},
                     token=token)
    assert status == 200
    events = []
    for i in range(16):
        status, body = call(base, "POST", "/projects/acme/churn-events",
                            {"customer_email": f"c{i}@example.com", "cancel_reason": "too_expensive"}, key=key)
        events.append(body["data"])
    treatment = [e for e in events if e["campaign"]["group"] == "treatment"]
    assert treatment and len(treatment) < 16

    def contacted():
        return all(call(base, "GET", f"/projects/acme/churn-events/{e['id']}", key=key)[1]["data"]["status"] == "contacted"
                   for e in treatment)

    assert wait_for(contacted, timeout=30)
    for event in treatment[: len(treatment) // 2 + 1]:
        assert call(base, "POST", f"/projects/acme/churn-events/{event['id']}/recovered", key=key)[0] == 200

    page.goto(base + "/app/projects/acme/campaign")
    page.locator("#lift svg.lift").wait_for()
    report = call(base, "GET", "/projects/acme/campaign", token=token)[1]["data"]
    caption = page.locator("#lift figcaption").inner_text()
    assert f"{report['lift']['absolute'] * 100:.1f} more came back" in caption
    assert page.locator("[data-group=treatment] .stat-note").inner_text() == \
        f"{report['treatment']['recovered']} of {report['treatment']['customers']} customers came back"
    rows = page.locator("#arms tbody tr")
    assert rows.count() == sum(1 for arm in report["arms"] if arm["sent"])
    assert page.locator("#shares svg rect").count() >= 1
    assert page.locator("#campaign-summary").inner_text().startswith("50% of customers get no email")
    watch.assert_clean()
