"""The widget in a real headless Chromium: a shop's page on another loopback origin embeds
`/widget.js`, a customer picks a reason, sees the configured offer, accepts or declines it, and
the server holds the answer."""
import http.client
import json

import pytest

from store.cancel_flow import CancelFlowSubmission
from store.db import unit_of_work
from tests.livehttp import call, serve_pages

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOP_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop account</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
  <h1>Your subscription</h1>
  <button id="cancel" data-windback-cancel data-customer-email="{email}" data-customer-id="{customer_id}">
    Cancel subscription</button>
  <button id="other">Something else on the page</button>
  <script src="{widget}" data-public-key="{public_key}"></script>
  <script>
    window.answers = [];
    window.errors = [];
    document.addEventListener("windback:complete", function (e) {{ window.answers.push(e.detail); }});
    document.addEventListener("windback:error", function (e) {{ window.errors.push(e.detail.message); }});
  </script>
</body></html>"""


@pytest.fixture
def windback(live_server):
    """A running server with a project whose `too_expensive` offer is 30% off for 2 months."""
    server = live_server()
    status, body = call(server.url, "POST", "/auth/register", {"email": "owner@shop.example",
                                                                  "password": "correct horse"})
    assert status == 201, body
    token = body["data"]["token"]
    status, body = call(server.url, "POST", "/projects", {"name": "Shop", "slug": "shop"}, token=token)
    assert status == 201, body
    project = body["data"]
    status, body = call(server.url, "PATCH", "/projects/shop", {"settings": {"cancel_flow": {
        "offers": {"too_expensive": {"type": "discount", "percent_off": 30, "months": 2}},
        "theme": {"accent_color": "#0f766e"}}}}, token=token)
    assert status == 200, body
    return server, project


@pytest.fixture
def shop(windback):
    """The shop's page, served by a server of its own on another loopback port (another origin)."""
    server, project = windback
    pages = {}
    base, httpd = serve_pages(pages)

    def page_for(email, customer_id="cus_1"):
        path = f"/account/{customer_id}"
        pages[path] = SHOP_PAGE.format(email=email, customer_id=customer_id, widget=f"{server.url}/widget.js",
                                       public_key=project["public_key"])
        return base + path

    yield page_for
    httpd.shutdown()


def churn_events(server, project, email):
    status, body = call(server.url, "GET", f"/projects/shop/churn-events?customer_email={email}",
                        key=project["secret_key"])
    assert status == 200, body
    return body["data"]


def open_dialog(page):
    page.click("#cancel")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    return dialog


def test_customer_accepts_the_offer_and_is_saved(browser, windback, shop, tmp_path):
    server, project = windback
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(shop("ann@example.com"))
    dialog = open_dialog(page)
    assert dialog.get_attribute("aria-modal") == "true"
    assert dialog.get_by_role("heading").inner_text() == "Before you go"
    dialog.get_by_role("button", name="It's too expensive").click()
    offer = dialog.locator(".wb-offer")
    offer.wait_for()
    assert "30% off for the next 2 months" in offer.inner_text()
    dialog.get_by_label("Anything else you would like to tell us? (optional)").fill("Budget cuts")
    page.screenshot(path=str(tmp_path / "cancel-dialog-offer.png"))
    dialog.get_by_role("button", name="Accept offer").click()
    page.wait_for_function("window.answers.length === 1")
    answer = page.evaluate("window.answers[0]")
    assert answer["saved"] is True and answer["reason"] == "too_expensive"
    assert "Thank you for staying" in dialog.inner_text()
    dialog.get_by_role("button", name="Close").last.click()
    assert page.get_by_role("dialog").count() == 0
    assert (tmp_path / "cancel-dialog-offer.png").stat().st_size > 1000

    events = churn_events(server, project, "ann@example.com")
    assert len(events) == 1
    event = events[0]
    assert event["id"] == answer["churnEventId"]
    assert (event["source"], event["cancel_reason"], event["cancel_reason_detail"], event["status"], event["saved"]) \
        == ("widget", "too_expensive", "Budget cuts", "saved", True)
    assert event["customer_id"] == "cus_1"
    with unit_of_work():  # the submission that save_rate counts
        submissions = [(s.reason, s.offer_accepted, json.loads(s.offer_shown)["percent_off"])
                       for s in CancelFlowSubmission.select().where(CancelFlowSubmission.churn_event == event["id"])]
    assert submissions == [("too_expensive", True, 30)]
    page.close()


def test_customer_declines_the_offer_on_a_phone(browser, windback, shop, tmp_path):
    server, project = windback
    page = browser.new_page(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page.goto(shop("bo@example.com", "cus_2"))
    dialog = open_dialog(page)
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375  # fits the phone's width
    dialog.get_by_role("button", name="It's too expensive").tap()
    dialog.locator(".wb-offer").wait_for()
    page.screenshot(path=str(tmp_path / "cancel-dialog-phone.png"))
    dialog.get_by_role("button", name="No thanks, cancel").tap()
    page.wait_for_function("window.answers.length === 1")
    assert page.evaluate("window.answers[0]")["saved"] is False
    event = churn_events(server, project, "bo@example.com")[0]
    assert (event["source"], event["cancel_reason"], event["status"], event["saved"]) == \
        ("widget", "too_expensive", "new", False)
    page.close()


def test_a_reason_without_an_offer_and_the_js_api(browser, windback, shop):
    server, project = windback
    page = browser.new_page()
    page.goto(shop("cy@example.com", "cus_3"))
    page.evaluate("""() => { window.opened = Windback.open({customerEmail: 'cy@example.com', customerId: 'cus_3',
                      onComplete: (r) => { window.fromCallback = r; }}); }""")
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="I'm not using it enough").click()
    assert dialog.locator(".wb-offer").count() == 0
    dialog.get_by_role("button", name="Cancel my subscription").click()
    page.wait_for_function("window.fromCallback !== undefined")
    assert page.evaluate("window.fromCallback") == {"saved": False, "applied": False, "reason": "not_using",
                                                   "churnEventId": churn_events(server, project, "cy@example.com")[0]["id"]}
    dialog.get_by_role("button", name="Close").last.click()
    assert page.evaluate("window.opened.then(r => r.reason)") == "not_using"
    page.close()


def test_keyboard_only(browser, windback, shop):
    server, project = windback
    page = browser.new_page()
    page.goto(shop("di@example.com", "cus_4"))
    page.focus("#cancel")
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    dialog.wait_for()

    def focused():
        return page.evaluate("""() => { const a = document.activeElement;
            return [a.closest('[role=dialog]') !== null, a.getAttribute('aria-label') || a.textContent.trim()]; }""")

    # Focus starts on the first reason; Tab visits every control once and wraps inside the dialog.
    controls = dialog.locator("button, textarea").count()
    assert focused() == [True, "It's too expensive"]
    seen = []
    for _ in range(controls):
        page.keyboard.press("Tab")
        inside, name = focused()
        assert inside, "focus left the dialog"
        seen.append(name)
    assert seen[-1] == "It's too expensive"  # wrapped round
    assert set(seen) == {"Close", "Keep my subscription", "It's too expensive", "It's missing features I need",
                         "I'm switching to another product", "I'm not using it enough",
                         "I ran into technical problems", "I wasn't happy with the support",
                         "I only need a break for now", "I had trouble with payment", "Something else"}
    page.keyboard.press("Shift+Tab")
    assert focused()[1] == "Close"  # the first control
    page.keyboard.press("Shift+Tab")
    assert focused() == [True, "Keep my subscription"]  # backwards wraps to the last one

    # Pick "only need a break" with the keyboard: the pause offer, then accept it.
    while focused()[1] != "I only need a break for now":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert focused()[1] == ""  # the detail box has the focus
    page.keyboard.type("Back in spring")
    names = []
    for _ in range(dialog.locator("button, textarea").count()):
        page.keyboard.press("Tab")
        names.append(focused()[1])
    assert {"Close", "Back", "No thanks, cancel", "Accept offer"} <= set(names)
    assert "Pause your subscription" in dialog.locator(".wb-offer").inner_text()

    # Escape closes without an answer and gives the focus back to the page's button.
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog").count() == 0
    assert page.evaluate("document.activeElement.id") == "cancel"
    assert page.evaluate("window.answers.length") == 0
    assert churn_events(server, project, "di@example.com") == []

    # Again, and this time answer with the keyboard alone.
    page.keyboard.press("Enter")
    page.get_by_role("dialog").wait_for()
    while focused()[1] != "I only need a break for now":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    while focused()[1] != "Accept offer":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_function("window.answers.length === 1")
    assert page.evaluate("window.answers[0].saved") is True
    event = churn_events(server, project, "di@example.com")[0]
    assert (event["cancel_reason"], event["status"]) == ("temporary", "saved")
    page.close()


def test_a_wrong_public_key_tells_the_page(browser, windback, shop):
    page = browser.new_page()
    page.goto(shop("ed@example.com", "cus_5"))
    page.evaluate("document.getElementById('cancel').setAttribute('data-public-key', 'pub_live_unknown')")
    page.click("#cancel")
    page.wait_for_function("window.errors.length === 1")
    assert "404" in page.evaluate("window.errors[0]")
    assert page.get_by_role("dialog").count() == 0
    page.close()
