"""Team management in the browser: an owner invites by email, the invitee accepts from the
emailed link after registering, the owner promotes and then removes them; a keyboard alone can
sign in."""
from __future__ import annotations

from tests.dashboard_support import DESKTOP, PageWatch, call, outbox_token, signup


def test_an_owner_invites_promotes_and_removes_a_teammate(live_server, browser, tmp_path, test_env):
    base = live_server().url
    owner = signup(base, "olive@example.com", name="Olive Owner")
    assert call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=owner)[0] == 201

    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(base + "/app/sign-in")
    page.evaluate("t => sessionStorage.setItem('windback.token', t)", owner)
    page.goto(base + "/app/projects/acme/team")
    page.locator("#members-table").wait_for()
    page.locator("#invite").get_by_label("Email").fill("nia@example.com")
    page.locator("#invite").get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to nia@example.com as member").wait_for()
    link_token = outbox_token(test_env["WINDBACK_OUTBOX_DIR"], "nia@example.com")

    # The invitee opens the link in their own browser, registers, and comes back to accept.
    invitee = browser.new_context(viewport=DESKTOP)
    invitee.set_default_timeout(15_000)
    their_page = invitee.new_page()
    their_watch = PageWatch(their_page)
    their_page.goto(f"{base}/app/accept-invitation?token={link_token}")
    their_page.get_by_role("link", name="Create an account").click()
    their_page.get_by_label("Name").fill("Nia Newcomer")
    their_page.get_by_label("Email").fill("nia@example.com")
    their_page.get_by_label("Password").fill("correct horse")
    their_page.get_by_role("button", name="Create account").click()
    their_page.get_by_role("button", name="Accept invitation").click()
    their_page.get_by_text("You joined Acme as member").wait_for()
    their_watch.assert_clean()

    # The owner sees them, makes them admin, then removes them.
    page.reload()
    row = page.locator("#members-table tr", has_text="nia@example.com")
    row.wait_for()
    row.get_by_label("Role of Nia Newcomer").select_option("admin")
    page.get_by_text("Nia Newcomer is now admin.").wait_for()
    members = call(base, "GET", "/projects/acme/members", token=owner)[1]["data"]
    assert {m["email"]: m["role"] for m in members}["nia@example.com"] == "admin"
    page.screenshot(path=str(tmp_path / "team.png"), full_page=True)
    row = page.locator("#members-table tr", has_text="nia@example.com")
    row.get_by_role("button", name="Remove").click()
    page.locator("dialog.modal").get_by_role("button", name="Remove").click()
    page.get_by_text("Nia Newcomer was removed.").wait_for()
    page.wait_for_function("() => !document.querySelector('#members-table').textContent.includes('nia@example.com')")
    members = call(base, "GET", "/projects/acme/members", token=owner)[1]["data"]
    assert [m["email"] for m in members] == ["olive@example.com"]
    # The owner cannot demote or remove themself from here: the last owner stays.
    own_row = page.locator("#members-table tr", has_text="olive@example.com")
    assert own_row.locator("select, button").count() == 0
    watch.assert_clean()
    invitee.close()
    context.close()


def test_the_keyboard_alone_signs_in_and_reaches_the_navigation(live_server, browser):
    base = live_server().url
    signup(base, "kay@example.com")
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    watch = PageWatch(page)
    page.goto(base + "/app/sign-in")
    page.locator("#root form").wait_for()
    focused = []
    for _ in range(8):
        page.keyboard.press("Tab")
        focused.append(page.evaluate("document.activeElement.name || document.activeElement.textContent"))
        if focused[-1] == "email":
            break
    assert focused[-1] == "email", focused
    page.keyboard.type("kay@example.com")
    page.keyboard.press("Tab")
    page.keyboard.type("correct horse")
    page.keyboard.press("Enter")
    page.wait_for_url("**/app/projects")
    # Visible focus: the focused control draws an outline.
    page.get_by_label("Project name").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Shift+Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    watch.assert_clean()
    context.close()
