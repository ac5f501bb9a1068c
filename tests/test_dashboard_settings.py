"""Settings in the browser, as an owner: brand and sender, webhook secrets next to each provider's
ready-to-paste URL (which a signed delivery then reaches), the cancel-flow editor with a live
preview of the real widget (showing unsaved changes, recording nothing), and key rotation with a
grace period."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from tests.conftest import free_port
from tests.dashboard_support import call, signed_in_page, signup
from tests.livehttp import wait_for
from tests.webhook_support import stripe_event, stripe_headers, stripe_subscription


def post_signed_stripe_delivery(url: str, secret: str) -> tuple[int, dict]:
    """What Stripe does with a URL pasted into its dashboard: POST a signed event to it."""
    body = json.dumps(stripe_event("customer.subscription.deleted",
                                   stripe_subscription(customer="cus_PASTED", email="pasted@example.com"))).encode()
    request = urllib.request.Request(url, data=body, method="POST", headers=stripe_headers(body, secret=secret))
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_an_owner_configures_the_project_from_the_settings_page(live_server, browser, tmp_path):
    # Providers reach the server at its public URL (here localhost), which is not the address this
    # browser uses (127.0.0.1): the page must show the former.
    port = free_port()
    public_url = f"http://localhost:{port}"
    base = live_server({"WINDBACK_PORT": str(port), "WINDBACK_PUBLIC_URL": public_url}).url
    assert not base.startswith(public_url)
    token = signup(base, "olive@example.com", name="Olive Owner")
    status, body = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)
    assert status == 201
    old_key, public_key = body["data"]["secret_key"], body["data"]["public_key"]

    page, watch = signed_in_page(browser, base, token)
    page.goto(base + "/app/projects/acme/settings")
    page.locator("#general").wait_for()

    # Brand and sender.
    page.get_by_label("Brand name").fill("Acme Co")
    page.get_by_label("Mail from").fill("Acme <hello@acme.test>")
    page.locator("#general").get_by_role("button", name="Save").click()
    page.get_by_text("Settings saved.").wait_for()
    settings = call(base, "GET", "/projects/acme", token=token)[1]["data"]["settings"]
    shown = page.locator("#general input[name=brand_name]").input_value()  # after the page's own reload
    assert (settings["brand_name"], settings["mail_from"]) == ("Acme Co", "Acme <hello@acme.test>"), \
        f"the page shows brand {shown!r} after saving"

    # Webhooks: each provider's URL, on the public URL, carries the public key; a saved secret
    # comes back masked.
    stripe = page.locator("form.webhook[data-provider=stripe]")
    stripe_url = stripe.get_by_label("Stripe webhook URL").input_value()
    assert stripe_url == f"{public_url}/api/v1/webhooks/stripe/{public_key}"
    assert page.get_by_label("Razorpay webhook URL").input_value() == f"{public_url}/api/v1/webhooks/razorpay/{public_key}"
    assert page.get_by_label("Custom (Standard Webhooks) webhook URL").input_value() == \
        f"{public_url}/api/v1/webhooks/custom/{public_key}"
    assert f'<script src="{public_url}/widget.js" data-public-key="{public_key}">' in \
        page.get_by_role("textbox", name="Widget snippet").input_value()
    stripe.get_by_label("Signing secret").fill("whsec_dashboardtest1234")
    stripe.get_by_role("button", name="Save secret").click()
    page.get_by_text("Stripe secret saved.").wait_for()
    stored = call(base, "GET", "/projects/acme", token=token)[1]["data"]["settings"]["stripe_webhook_secret"]
    assert stored != "whsec_dashboardtest1234" and stored.endswith("1234")
    page.wait_for_function("() => document.querySelector('form.webhook[data-provider=stripe] input[type=password]').placeholder.includes('1234')")
    assert "whsec_dashboardtest1234" not in page.content()
    # The URL as read off the page, pasted into Stripe: a signed delivery is accepted and applied.
    status, answer = post_signed_stripe_delivery(stripe_url, "whsec_dashboardtest1234")
    assert status == 200 and answer["data"] == {"received": True, "duplicate": False}, answer
    assert wait_for(lambda: call(base, "GET", "/projects/acme/churn-events?customer_id=cus_PASTED",
                                 token=token)[1]["meta"]["total"] == 1)

    # The cancel flow: the real widget previews unsaved changes.
    preview = page.frame_locator("#widget-preview")
    preview.locator(".wb-title").wait_for()
    assert preview.locator(".wb-title").inner_text() == "Before you go"
    page.get_by_label("Offer for Temporary").select_option("")
    # Typing, pausing (the preview restarts with the widget opening inside it), typing on: the
    # keyboard stays in the field.
    title = page.get_by_label("Title", exact=True)
    title.fill("")
    title.press_sequentially("Wait, one")
    preview.locator(".wb-title", has_text="Wait, one").wait_for()
    page.keyboard.type(" question")
    assert title.input_value() == "Wait, one question"
    preview.locator(".wb-title", has_text="Wait, one question").wait_for()
    config = call(base, "GET", f"/cancel-flow/config/{public_key}")[1]["data"]
    assert config["copy"]["title"] == "Before you go"  # not saved yet
    preview.locator(".wb-reason[data-reason=too_expensive]").click()
    preview.locator("[data-action=accept]").click()
    page.frame_locator("#widget-preview").get_by_text("nothing was recorded").wait_for()
    assert call(base, "GET", "/projects/acme/churn-events", token=token)[1]["meta"]["total"] == 1  # the delivery's
    page.screenshot(path=str(tmp_path / "settings-preview.png"), full_page=True)

    page.get_by_role("button", name="Save cancel flow").click()
    page.get_by_text("Cancel flow saved").wait_for()
    config = call(base, "GET", f"/cancel-flow/config/{public_key}")[1]["data"]
    assert config["copy"]["title"] == "Wait, one question"
    assert "temporary" not in config["offers"]
    assert config["offers"]["too_expensive"]["percent_off"] == 20

    # Rotation with a grace period: the new secret is shown once; the old one keeps working.
    page.get_by_label("Grace period").select_option("3600")
    page.get_by_role("button", name="Rotate keys").click()
    page.locator("dialog.modal").get_by_role("button", name="Rotate keys").click()
    new_key = page.locator("#secret-key").input_value()
    assert new_key.startswith("sk_live_") and new_key != old_key
    assert page.get_by_text("The previous keys stop working").is_visible()
    assert call(base, "GET", "/projects/acme", key=new_key)[0] == 200
    assert call(base, "GET", "/projects/acme", key=old_key)[0] == 200
    watch.assert_clean()
    page.context.close()
