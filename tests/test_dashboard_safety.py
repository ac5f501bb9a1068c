"""The dashboard is safe by construction: attacker-controlled values show as text and never run,
a member sees no settings, keys or team controls (and the API refuses them anyway), sign-out
forgets the token, and errors are shown in the words of the API's envelope."""
from __future__ import annotations


from tests.dashboard_support import (DESKTOP, XSS_NAME, PageWatch, call, outbox_token, sign_in, signup)

XSS_DETAIL = "<script>alert(2)</script><b onmouseover=alert(3)>bold</b>"


def _owner_with_project(base: str, email: str = "owner@example.com"):
    token = signup(base, email, name="Olive Owner")
    status, body = call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=token)
    assert status == 201, body
    return token, body["data"]


def _use_token(page, base: str, token: str) -> None:
    page.goto(base + "/app/sign-in")
    page.evaluate("t => sessionStorage.setItem('windback.token', t)", token)


def _no_injected_markup(page) -> None:
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("main script, main b[onmouseover]").count() == 0


def test_a_hostile_customer_name_shows_as_text_everywhere_and_runs_nothing(live_server, browser, tmp_path):
    base = live_server().url
    token, project = _owner_with_project(base)
    status, body = call(base, "POST", "/projects/acme/churn-events",
                        {"customer_email": "mallory@example.com", "customer_name": XSS_NAME, "plan": XSS_NAME,
                         "cancel_reason": "other", "cancel_reason_detail": XSS_DETAIL, "mrr_cents": 1000},
                        key=project["secret_key"])
    assert status == 201, body
    event_id = body["data"]["id"]
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page)
    _use_token(page, base, token)

    page.goto(base + "/app/projects/acme/events")
    page.locator("#events-table").wait_for()
    assert page.locator("#events-table .customer-name").inner_text() == XSS_NAME
    _no_injected_markup(page)
    page.screenshot(path=str(tmp_path / "xss-events.png"))

    page.get_by_role("link", name=XSS_NAME).click()
    page.locator("#event-status").wait_for()
    assert page.locator("h1").inner_text() == XSS_NAME
    assert page.title().startswith(XSS_NAME)
    assert page.get_by_text(XSS_DETAIL).is_visible()
    _no_injected_markup(page)

    # The confirmation dialogs quote the name as text too.
    page.get_by_role("button", name="Mark recovered").click()
    dialog = page.locator("dialog.modal")
    assert XSS_NAME in dialog.inner_text()
    _no_injected_markup(page)
    dialog.get_by_role("button", name="Cancel").click()

    # The generated emails use the customer's name: still text in the grid.
    page.get_by_role("button", name="Generate variants").click()
    page.wait_for_function("() => document.querySelectorAll('.variant[data-variant-id]').length === 9")
    _no_injected_markup(page)
    page.locator(".variant").first.get_by_role("button", name="Send…").click()
    page.locator("dialog.modal").wait_for()
    _no_injected_markup(page)
    page.locator("dialog.modal").get_by_role("button", name="Cancel").click()
    page.screenshot(path=str(tmp_path / "xss-event.png"), full_page=True)

    page.goto(f"{base}/app/projects/acme/events/{event_id}")
    page.locator("#event-status").wait_for()
    page.goto(base + "/app/projects/acme")
    page.locator("[data-stat=churn_events]").wait_for()
    _no_injected_markup(page)
    watch.assert_clean()
    context.close()


def test_a_member_sees_no_settings_keys_or_team_controls_and_the_api_refuses_them(live_server, browser, tmp_path, test_env):
    base = live_server().url
    owner_token, project = _owner_with_project(base)
    status, body = call(base, "POST", "/projects/acme/invitations", {"email": "mo@example.com", "role": "member"},
                        token=owner_token)
    assert status == 201, body
    invitation = outbox_token(test_env["WINDBACK_OUTBOX_DIR"], "mo@example.com")
    member_token = signup(base, "mo@example.com", name="Mo Member")

    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page)
    # The invitation link from the email: signed out, it offers sign-in and comes back after it.
    page.goto(f"{base}/app/accept-invitation?token={invitation}")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill("mo@example.com")
    page.get_by_label("Password").fill("correct horse")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/app/accept-invitation?token=*")
    page.get_by_role("button", name="Accept invitation").click()
    page.get_by_text("You joined").wait_for()
    page.screenshot(path=str(tmp_path / "member-accepted.png"))
    page.get_by_role("link", name="Open the project").click()
    page.locator("[data-stat=churn_events]").wait_for()

    nav = page.locator("aside")
    assert nav.get_by_role("link", name="Overview").is_visible()
    assert nav.get_by_role("link", name="Settings").count() == 0
    assert nav.locator(".badge.role").text_content() == "member"

    page.get_by_role("link", name="Team").click()
    page.locator("#members-table").wait_for()
    assert page.locator("#members-table").get_by_text("owner@example.com").is_visible()
    assert page.locator("#invite").count() == 0
    assert page.locator("#members-table select, #members-table button").count() == 0
    page.screenshot(path=str(tmp_path / "member-team.png"))

    # A typed-in settings address shows why, and no key or secret control.
    page.goto(base + "/app/projects/acme/settings")
    page.get_by_text("Only owners and admins").wait_for()
    assert page.locator("#keys, #webhooks, #cancel-flow, #general, #secret-key").count() == 0
    assert page.get_by_role("button", name="Rotate keys").count() == 0
    assert project["public_key"] not in page.content()
    watch.assert_clean()
    context.close()

    # The API refuses a member whatever the page shows.
    refused = [
        call(base, "PATCH", "/projects/acme", {"settings": {"brand_name": "Mine"}}, token=member_token),
        call(base, "POST", "/projects/acme/rotate-keys", {}, token=member_token),
        call(base, "POST", "/projects/acme/invitations", {"email": "x@example.com", "role": "admin"}, token=member_token),
    ]
    status, members = call(base, "GET", "/projects/acme/members", token=member_token)
    assert status == 200
    owner_id = next(m["user_id"] for m in members["data"] if m["email"] == "owner@example.com")
    refused.append(call(base, "PATCH", f"/projects/acme/members/{owner_id}", {"role": "member"}, token=member_token))
    refused.append(call(base, "DELETE", f"/projects/acme/members/{owner_id}", token=member_token))
    for status, body in refused:
        assert status == 403, body
        assert body["error"]["code"] == "FORBIDDEN"
    status, body = call(base, "GET", "/projects/acme", token=owner_token)
    assert body["data"]["settings"].get("brand_name") in (None, "")


def test_sign_out_forgets_the_token(live_server, browser):
    base = live_server().url
    signup(base, "sam@example.com")
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page)
    sign_in(page, base, "sam@example.com")
    page.wait_for_url("**/app/projects")
    assert page.evaluate("sessionStorage.getItem('windback.token')")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/app/sign-in")
    assert page.evaluate("sessionStorage.length") == 0
    page.goto(base + "/app/projects")
    page.wait_for_url("**/app/sign-in?next=*")
    page.go_back()
    page.wait_for_url("**/app/sign-in*")
    watch.assert_clean()
    context.close()


def test_password_reset_from_the_email_link_and_errors_in_the_envelope_words(live_server, browser, test_env, tmp_path):
    base = live_server().url
    signup(base, "rita@example.com")
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page, allowed_statuses=(400, 401))

    # A wrong password: the envelope's message, as the API words it.
    page.goto(base + "/app/sign-in")
    page.get_by_label("Email").fill("rita@example.com")
    page.get_by_label("Password").fill("not her password")
    page.get_by_role("button", name="Sign in").click()
    banner = page.get_by_role("alert")
    banner.wait_for()
    status, body = call(base, "POST", "/auth/login", {"email": "rita@example.com", "password": "not her password"})
    assert body["error"]["message"] in banner.inner_text()

    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("rita@example.com")
    page.get_by_role("button", name="Send reset link").click()
    page.get_by_text("we sent it a link").wait_for()
    token = outbox_token(test_env["WINDBACK_OUTBOX_DIR"], "rita@example.com")

    page.goto(f"{base}/app/reset-password?token={token}")
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("alert").wait_for()
    assert "password" in page.get_by_role("alert").inner_text().lower()  # the field's detail
    assert page.get_by_label("New password").get_attribute("aria-invalid") == "true"
    page.screenshot(path=str(tmp_path / "reset-error.png"))
    page.get_by_label("New password").fill("a much better passphrase")
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/app/sign-in?reset=1")
    sign_in(page, base, "rita@example.com", "a much better passphrase")
    page.wait_for_url("**/app/projects")

    # The same link cannot be used twice.
    page.get_by_role("button", name="Sign out").click()
    page.goto(f"{base}/app/reset-password?token={token}")
    page.get_by_label("New password").fill("yet another passphrase")
    page.get_by_role("button", name="Set password").click()
    page.get_by_role("alert").wait_for()
    assert "VALIDATION_ERROR" in page.get_by_role("alert").inner_text()
    watch.assert_clean()
    context.close()


def test_the_verification_link_confirms_the_address_once_by_a_click(live_server, browser, test_env):
    base = live_server().url
    token = signup(base, "vic@example.com")
    link_token = outbox_token(test_env["WINDBACK_OUTBOX_DIR"], "vic@example.com", page="verify-email")
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page, allowed_statuses=(400,))
    page.goto(f"{base}/app/verify-email?token={link_token}")
    # Opening the link alone (as a mail scanner would) confirms nothing.
    page.get_by_role("button", name="Confirm my address").wait_for()
    assert call(base, "GET", "/auth/me", token=token)[1]["data"]["email_verified"] is False
    page.get_by_role("button", name="Confirm my address").click()
    page.get_by_text("Your email address is confirmed.").wait_for()
    assert call(base, "GET", "/auth/me", token=token)[1]["data"]["email_verified"] is True
    # A second use is refused in the API's words.
    page.goto(f"{base}/app/verify-email?token={link_token}")
    page.get_by_role("button", name="Confirm my address").click()
    page.get_by_role("alert").wait_for()
    assert "VALIDATION_ERROR" in page.get_by_role("alert").inner_text()
    watch.assert_clean()
    context.close()
