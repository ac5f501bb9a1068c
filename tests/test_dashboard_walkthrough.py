"""The whole product as a new user, in the real browser against a real server process: register,
create a project, copy its key, send churn events with it, find them in the table, filter, open
one, generate the nine emails, edit one, send it (to a real SMTP server), mark the customer
recovered, and watch the overview change. Screenshots of each page go to the test's temp folder;
any console error or dialog fails the test."""
from __future__ import annotations

import datetime as dt
import re

from tests.dashboard_support import (DESKTOP, PHONE, PageWatch, SmtpSink, call, low_contrast_text, no_horizontal_scroll,
                                     register_in_browser, signed_in_page)


def _stat(page, name: str) -> str:
    return page.locator(f"[data-stat={name}] .stat-value").inner_text()


def _months_ago(n: int) -> str:
    """A moment n calendar months back (the 10th); this month: a few seconds ago."""
    if n == 0:
        return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = dt.datetime.now(dt.timezone.utc).replace(day=10, hour=12, minute=0, second=0, microsecond=0)
    year, month = now.year, now.month - n
    while month < 1:
        month += 12
        year -= 1
    return now.replace(year=year, month=month).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_a_new_user_walks_through_the_whole_product(live_server, browser, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with SmtpSink() as smtp:
        server = live_server(env={"WINDBACK_SMTP_URL": smtp.url})
        base = server.url
        context = browser.new_context(viewport=DESKTOP)
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = PageWatch(page)

        # Signed out, the app asks to sign in; a new user registers.
        page.goto(base + "/app")
        page.wait_for_url("**/app/sign-in")
        page.screenshot(path=str(shots / "01-sign-in.png"))
        register_in_browser(page, base, "ada@example.com")
        page.get_by_text("No projects yet").wait_for()
        page.screenshot(path=str(shots / "02-projects-empty.png"))

        # Create a project: the secret key is shown once, with a warning and a copy button.
        page.get_by_label("Project name").fill("Acme Analytics")
        page.get_by_role("button", name="Create project").click()
        key_input = page.locator("#secret-key")
        key_input.wait_for()
        secret_key = key_input.input_value()
        assert secret_key.startswith("sk_live_")
        assert page.get_by_text("it is shown only this once").is_visible()
        page.get_by_role("button", name="Copy secret key").click()
        page.get_by_text("Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == secret_key
        page.screenshot(path=str(shots / "03-project-created.png"))
        slug = page.locator("#open-project").get_attribute("href").rsplit("/", 1)[1]
        assert slug == "acme-analytics"

        # The copied key works for the API: churn events arrive as an integration would send them.
        events = [
            ("dana@example.com", "Dana Smith", "too_expensive", 9900, _months_ago(0)),
            ("eli@example.com", "Eli Jones", "missing_features", 4900, _months_ago(1)),
            ("fay@example.com", "Fay Wong", "too_expensive", 19900, _months_ago(2)),
        ]
        for address, name, reason, mrr, churned_at in events:
            status, body = call(base, "POST", f"/projects/{slug}/churn-events",
                                {"customer_email": address, "customer_name": name, "cancel_reason": reason,
                                 "mrr_cents": mrr, "plan": "Pro", "churned_at": churned_at}, key=secret_key)
            assert status == 201, body

        page.locator("#open-project").click()
        page.wait_for_url(f"**/app/projects/{slug}")
        page.locator("[data-stat=churn_events]").wait_for()
        assert _stat(page, "churn_events") == "3"
        assert _stat(page, "recovered") == "0"
        mrr_recovered_before = _stat(page, "mrr_recovered")
        assert page.locator("#mrr-chart rect.bar.churned").count() >= 3
        recovered_before = sum(float(v) for v in page.locator("#mrr-chart rect.bar.recovered").evaluate_all(
            "bars => bars.map(b => b.dataset.value)"))
        assert recovered_before == 0
        page.locator("#cohort-table").wait_for()
        assert page.locator("#forecast-empty").is_visible()  # three months of churn: no forecast yet
        this_month = page.locator(f"#cohort-table tr[data-cohort='{_months_ago(0)[:7]}'] td.heat")
        assert this_month.first.inner_text() == "0% (0)"
        page.screenshot(path=str(shots / "04-overview-before.png"), full_page=True)

        # The table shows them; filtering by reason keeps the view in the URL.
        page.get_by_role("link", name="Churn events").click()
        page.locator("#events-table").wait_for()
        assert page.locator("#events-table tbody tr").count() == 3
        page.screenshot(path=str(shots / "05-events.png"), full_page=True)
        assert low_contrast_text(page) == []
        page.get_by_label("Reason").select_option("too_expensive")
        page.wait_for_url(re.compile(r".*cancel_reason=too_expensive.*"))
        page.wait_for_function("() => document.querySelectorAll('#events-table tbody tr').length === 2")
        page.reload()
        page.locator("#events-table").wait_for()
        assert page.locator("#events-table tbody tr").count() == 2
        assert page.get_by_label("Reason").input_value() == "too_expensive"
        assert page.get_by_text("Eli Jones").count() == 0
        page.get_by_role("button", name=re.compile("^MRR")).click()
        page.wait_for_url(re.compile(r".*sort=mrr_cents.*"))
        page.wait_for_function("() => document.querySelector('#events-table tbody tr a')?.textContent.includes('Fay Wong')")
        page.screenshot(path=str(shots / "06-events-filtered.png"), full_page=True)

        # Open Dana's event and generate the nine emails: a 3x3 grid of strategy x tone.
        page.get_by_role("link", name="Dana Smith").click()
        page.locator("#event-status").wait_for()
        event_path = page.url.split(base, 1)[1]
        assert page.locator("h1").inner_text() == "Dana Smith"
        page.get_by_role("button", name="Generate variants").click()
        page.wait_for_function("() => document.querySelectorAll('.variant[data-variant-id]').length === 9")
        for strategy in ("discount_offer", "value_reminder", "personal_check_in"):
            for tone in ("friendly", "professional", "urgent"):
                assert page.locator(f".variant[data-strategy={strategy}][data-tone={tone}] .subject").count() == 1
        assert page.locator("#event-status").inner_text().lower() == "variants ready"
        page.screenshot(path=str(shots / "07-variants.png"), full_page=True)

        # Edit one in place.
        cell = page.locator(".variant[data-strategy=discount_offer][data-tone=friendly]")
        variant_id = cell.get_attribute("data-variant-id")
        cell.get_by_role("button", name="Edit").click()
        cell.get_by_label("Subject").fill("Dana, 20% off to come back")
        cell.get_by_role("button", name="Save").click()
        page.get_by_text("Variant saved.").wait_for()
        cell = page.locator(f".variant[data-variant-id='{variant_id}']")
        assert cell.locator(".subject").inner_text() == "Dana, 20% off to come back"
        assert cell.locator(".badge").inner_text().lower() == "edited"

        # Send it, after a confirmation; it arrives at the SMTP server.
        cell.get_by_role("button", name="Send…").click()
        dialog = page.locator("dialog.modal")
        dialog.wait_for()
        assert "dana@example.com" in dialog.inner_text()
        page.screenshot(path=str(shots / "08-send-confirm.png"))
        dialog.get_by_role("button", name="Send email").click()
        page.get_by_text("Sent to dana@example.com.").wait_for()
        message = smtp.wait_for(lambda m: m["Subject"] == "Dana, 20% off to come back")
        assert "dana@example.com" in str(message["To"])
        assert page.locator("#event-status").inner_text().lower() == "contacted"
        assert page.locator(f".variant[data-variant-id='{variant_id}'] .badge").inner_text().lower() == "sent"

        # Mark the customer recovered.
        page.get_by_role("button", name="Mark recovered").click()
        page.locator("dialog.modal").get_by_role("button", name="Mark recovered").click()
        page.wait_for_function("() => document.querySelector('#event-status').textContent.toLowerCase() === 'recovered'")
        page.screenshot(path=str(shots / "09-recovered.png"), full_page=True)
        assert low_contrast_text(page) == []

        # The overview's numbers and chart now show the recovery.
        page.get_by_role("link", name="Overview").click()
        page.locator("[data-stat=recovered]").wait_for()
        assert _stat(page, "recovered") == "1"
        assert _stat(page, "emails_sent") == "1"
        assert _stat(page, "mrr_recovered") != mrr_recovered_before
        assert "$99" in _stat(page, "mrr_recovered")
        recovered_after = page.locator("#mrr-chart rect.bar.recovered").evaluate_all(
            "bars => bars.map(b => Number(b.dataset.value))")
        assert sum(recovered_after) == 9900
        # Dana's month in the heat map: one churn, recovered within 7 days, the darkest cell.
        this_month = page.locator(f"#cohort-table tr[data-cohort='{_months_ago(0)[:7]}'] td.heat")
        assert this_month.first.inner_text() == "100% (1)"
        assert "heat-10" in this_month.first.get_attribute("class")
        page.screenshot(path=str(shots / "10-overview-after.png"), full_page=True)
        assert low_contrast_text(page) == []

        # The other pages of an owner.
        page.get_by_role("link", name="Settings").click()
        page.locator("#keys").wait_for()
        page.screenshot(path=str(shots / "11-settings.png"), full_page=True)
        assert low_contrast_text(page) == []
        page.get_by_role("link", name="Team").click()
        page.locator("#members-table").wait_for()
        assert page.locator("#members-table").get_by_text("ada@example.com").is_visible()
        page.screenshot(path=str(shots / "12-team.png"), full_page=True)
        watch.assert_clean()

        # At phone width the nav collapses into a top bar and nothing scrolls sideways.
        phone = browser.new_context(viewport=PHONE)
        phone_page = phone.new_page()
        phone_watch = PageWatch(phone_page)
        token = page.evaluate("sessionStorage.getItem('windback.token')")
        phone_page.goto(base + "/app/sign-in")
        phone_page.evaluate("t => sessionStorage.setItem('windback.token', t)", token)
        for path, ready, name in [(f"/app/projects/{slug}", "[data-stat=recovered]", "13-phone-overview.png"),
                                  (f"/app/projects/{slug}/events", "#events-table", "14-phone-events.png"),
                                  (event_path, ".variant[data-variant-id]", "15-phone-event.png"),
                                  (f"/app/projects/{slug}/settings", "#keys", "16-phone-settings.png"),
                                  (f"/app/projects/{slug}/team", "#members-table", "17-phone-team.png")]:
            phone_page.goto(base + path)
            phone_page.locator(ready).first.wait_for()
            assert no_horizontal_scroll(phone_page), path
            assert not phone_page.locator("aside").get_by_role("link", name="Churn events").is_visible()
            phone_page.screenshot(path=str(shots / name), full_page=True)
        phone_page.get_by_role("button", name="Menu").click()
        phone_page.locator("aside").get_by_role("link", name="Churn events").click()
        phone_page.locator("#events-table").wait_for()
        phone_watch.assert_clean()
        phone.close()
        context.close()


def test_the_forecast_band_appears_with_history_and_pages_are_in_the_url(live_server, browser, tmp_path):
    from tests.dashboard_support import signup

    base = live_server().url
    token = signup(base, "pat@example.com")
    status, body = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)
    key = body["data"]["secret_key"]
    for n, months_back in enumerate((5, 4, 4, 3, 2)):
        status, body = call(base, "POST", "/projects/acme/churn-events",
                            {"customer_email": f"c{n}@example.com", "customer_name": f"Customer {n}",
                             "mrr_cents": 1000 * (n + 1), "churned_at": _months_ago(months_back)}, key=key)
        assert status == 201, body
    page, watch = signed_in_page(browser, base, token)

    page.goto(base + "/app/projects/acme")
    page.locator("#forecast svg").wait_for()
    assert page.locator("#forecast-empty").count() == 0
    assert page.locator("#forecast polygon.band").count() == 2  # churned and recovered ranges
    assert page.locator("#forecast polyline.dashed").count() == 2
    page.screenshot(path=str(tmp_path / "forecast.png"), full_page=True)

    # Paging: two per page, sorted by MRR ascending; the page number lives in the URL.
    page.goto(base + "/app/projects/acme/events?per_page=2&sort=mrr_cents&order=asc")
    page.locator("#events-table").wait_for()
    assert page.get_by_text("Page 1 of 3").is_visible()
    page.get_by_role("button", name="Next").click()
    page.wait_for_url(re.compile(r".*page=2.*"))
    page.get_by_text("Page 2 of 3").wait_for()
    names = page.locator("#events-table .customer-name").all_inner_texts()
    assert names == ["Customer 2", "Customer 3"]
    page.reload()
    page.get_by_text("Page 2 of 3").wait_for()
    assert page.locator("#events-table .customer-name").all_inner_texts() == names
    page.go_back()
    page.get_by_text("Page 1 of 3").wait_for()
    assert page.locator("#events-table .customer-name").all_inner_texts() == ["Customer 0", "Customer 1"]
    watch.assert_clean()
    page.context.close()


def test_amounts_in_several_currencies_are_never_added_together(live_server, browser):
    from tests.dashboard_support import signup

    base = live_server().url
    token = signup(base, "cy@example.com")
    status, body = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)
    key = body["data"]["secret_key"]
    for email, cents, currency in (("us@example.com", 1000, "USD"), ("eu@example.com", 5000, "EUR")):
        assert call(base, "POST", "/projects/acme/churn-events",
                    {"customer_email": email, "mrr_cents": cents, "currency": currency}, key=key)[0] == 201
    page, watch = signed_in_page(browser, base, token, locale="en-US")
    page.goto(base + "/app/projects/acme")
    page.locator("#mrr-chart svg").wait_for()
    churned = _stat(page, "mrr_churned")
    assert "$10" in churned and "€50" in churned and "$60" not in churned
    values = "bars => bars.map(b => Number(b.dataset.value)).reduce((a, b) => a + b, 0)"
    assert page.get_by_label("Currency").input_value() == "EUR"  # the larger amount first
    assert page.locator("#mrr-chart rect.bar.churned").evaluate_all(values) == 5000
    page.get_by_label("Currency").select_option("USD")
    page.wait_for_function("() => document.querySelector('#mrr-chart svg').getAttribute('aria-label').includes('USD')")
    assert page.locator("#mrr-chart rect.bar.churned").evaluate_all(values) == 1000
    watch.assert_clean()
    page.context.close()
