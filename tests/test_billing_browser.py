"""The widget in headless Chromium with identity verification: the shop's server signs the
customer id, the customer accepts, Windback applies the offer in Stripe and the dialog says what
was applied; when Stripe refuses, the dialog says so in plain words and nothing is saved."""
import pytest

from tests.billing_support import auth_hash, stripe_fake  # noqa: F401
from tests.livehttp import call, serve_pages
from tests.test_billing_processes import connect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop account</title></head>
<body>
  <button id="cancel" data-windback-cancel data-customer-email="{customer_id}@example.com"
          data-customer-id="{customer_id}" data-auth-hash="{auth_hash}">Cancel subscription</button>
  <script src="{widget}" data-public-key="{public_key}"></script>
  <script>
    window.answers = [];
    Windback.onComplete = function (answer) {{ window.answers.push(answer); }};
  </script>
</body></html>"""


@pytest.fixture
def shop(stripe_fake, live_server):
    server = live_server()
    token, project, secret = connect(server.url)
    pages = {}
    base, httpd = serve_pages(pages)

    def page_for(customer_id):
        # The shop's own server computes the hash with the identity secret (docs/widget.md).
        pages[f"/account/{customer_id}"] = SHOP_PAGE.format(
            customer_id=customer_id, auth_hash=auth_hash(secret, customer_id), widget=f"{server.url}/widget.js",
            public_key=project["public_key"])
        return f"{base}/account/{customer_id}"

    yield server, token, page_for
    httpd.shutdown()


def choose_too_expensive(page):
    page.click("#cancel")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    dialog.get_by_role("button", name="It's too expensive").click()
    dialog.locator(".wb-offer").wait_for()
    return dialog


def test_the_dialog_shows_the_offer_windback_applied_in_stripe(browser, shop, stripe_fake, tmp_path):
    server, token, page_for = shop
    sub = stripe_fake.add_subscription("cus_ann")
    page = browser.new_page()
    page.goto(page_for("cus_ann"))
    dialog = choose_too_expensive(page)
    dialog.get_by_role("button", name="Accept offer").click()
    page.wait_for_function("window.answers.length === 1")
    answer = page.evaluate("window.answers[0]")
    assert answer["saved"] is True and answer["applied"] is True
    assert dialog.locator("[data-applied]").inner_text() == "20% off your next 3 months is on your account."
    page.screenshot(path=str(tmp_path / "offer-applied.png"))
    assert stripe_fake.writes()[-1].form == {"discounts[0][coupon]": "windback_20off_3m"}
    assert sub["discounts"]
    status, body = call(server.url, "GET", "/projects/acme/billing-actions", token=token)
    assert [(a["customer_id"], a["status"], a["churn_event_id"]) for a in body["data"]] == [
        ("cus_ann", "applied", answer["churnEventId"])]
    page.close()


def test_a_refusal_is_shown_in_plain_words_and_nothing_is_saved(browser, shop, stripe_fake):
    server, token, page_for = shop
    stripe_fake.add_subscription("cus_bo")
    stripe_fake.fail_next(402, {"error": {"type": "card_error", "code": "card_declined",
                                          "message": "Your card was declined."}})
    page = browser.new_page()
    page.goto(page_for("cus_bo"))
    dialog = choose_too_expensive(page)
    dialog.get_by_role("button", name="Accept offer").click()
    error = dialog.get_by_role("alert")
    page.wait_for_function("document.querySelector('.wb-error').textContent.length > 0")
    assert error.inner_text() == ("We could not apply your offer, and nothing on your account has changed. "
                                  "Stripe refused (HTTP 402): Your card was declined.")
    assert page.evaluate("window.answers") == []
    # The customer declines instead: the page hears {saved: false, applied: false}.
    dialog.get_by_role("button", name="No thanks, cancel").click()
    page.wait_for_function("window.answers.length === 1")
    answer = page.evaluate("window.answers[0]")
    assert answer["saved"] is False and answer["applied"] is False
    status, body = call(server.url, "GET", "/projects/acme/billing-actions", token=token)
    assert [a["status"] for a in body["data"]] == ["failed"]
    page.close()


def test_the_email_link_in_a_browser_opens_applies_once_and_then_says_already_used(browser, stripe_fake,
                                                                                     live_server):
    import re

    server = live_server()
    token, project, _ = connect(server.url)
    sub = stripe_fake.add_subscription("cus_em", cancel_at_period_end=True)
    status, body = call(server.url, "POST", "/projects/acme/churn-events", {
        "customer_email": "em@example.com", "customer_id": "cus_em", "cancel_reason": "too_expensive"}, token=token)
    event = body["data"]
    status, body = call(server.url, "POST", f"/projects/acme/churn-events/{event['id']}/generate", token=token)
    variant = next(v for v in body["data"] if v["strategy"] == "discount_offer")
    link = re.search(r"http://windback\.test(/offers/\S+)", variant["body_text"]).group(1)

    page = browser.new_page()
    errors = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    response = page.goto(server.url + link)
    assert response.status == 200
    assert page.get_by_role("heading").inner_text() == "Your offer"
    assert "20% off your next 3 months" in page.inner_text("main")
    page.reload()  # opening it again (a mail scanner, a second look) changes nothing
    assert stripe_fake.writes() == []
    status, body = call(server.url, "GET", f"/projects/acme/churn-events/{event['id']}", token=token)
    assert body["data"]["status"] == "variants_ready"
    assert call(server.url, "GET", "/projects/acme/billing-actions", token=token)[1]["data"] == []

    page.get_by_role("button", name="Accept the offer").click()
    page.get_by_role("heading", name="Welcome back").wait_for()
    assert "20% off your next 3 months is on your account" in page.inner_text("main")
    assert [w.form for w in stripe_fake.writes()] == [{"discounts[0][coupon]": "windback_20off_3m",
                                                      "cancel_at_period_end": "false"}]
    assert sub["cancel_at_period_end"] is False
    status, body = call(server.url, "GET", f"/projects/acme/churn-events/{event['id']}", token=token)
    assert (body["data"]["status"], body["data"]["recovered_by_variant_id"]) == ("recovered", variant["id"])

    response = page.goto(server.url + link)  # the second use
    assert response.status == 410
    assert page.get_by_role("heading").inner_text() == "Offer already used"
    assert "already used" in page.inner_text("main")
    assert len(stripe_fake.writes()) == 1
    assert not [e for e in errors if "Content Security Policy" in e], errors
    page.close()
