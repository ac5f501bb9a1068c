"""Team management in the browser: an owner invites by email, the invitee accepts from the
emailed link after registering, the owner promotes and then removes them; pending invitations
are listed for owners and admins and can be revoked (the link then stops working); a keyboard
alone can sign in."""
from __future__ import annotations

import re

from tests.dashboard_support import DESKTOP, PageWatch, SmtpSink, call, outbox_token, signed_in_page, signup


def test_an_owner_invites_promotes_and_removes_a_teammate(live_server, browser, tmp_path, test_env):
    base = live_server().url
    owner = signup(base, "olive@example.com", name="Olive Owner")
    assert call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=owner)[0] == 201

    page, watch = signed_in_page(browser, base, owner)
    page.goto(base + "/app/projects/acme/team")
    page.locator("#members-table").wait_for()
    page.locator("#invite").get_by_label("Email").fill("nia@example.com")
    page.locator("#invite").get_by_label("Role").select_option("member")
    page.get_by_role("button", name="Send invitation").click()
    page.get_by_text("Invitation sent to nia@example.com as member").wait_for()
    page.locator("#invitations-table tr", has_text="nia@example.com").wait_for()
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
    # A member sees the team but not the pending invitations (nor asks for them: no 403 logged).
    their_page.goto(base + "/app/projects/acme/team")
    their_page.locator("#members-table").wait_for()
    their_page.get_by_text("Owners and admins manage the team.").wait_for()
    assert their_page.locator("#invitations").count() == 0
    assert not their_page.get_by_text("Pending invitations").is_visible()
    their_watch.assert_clean()

    # The owner sees them, makes them admin, then removes them; the accepted invitation is no
    # longer pending.
    page.reload()
    page.locator("#invitations").get_by_text("No pending invitations").wait_for()
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
    page.context.close()


def _emailed_token(smtp: SmtpSink, to: str) -> str:
    message = smtp.wait_for(lambda m: to in str(m["To"]))
    found = re.search(r"token=([A-Za-z0-9_\-]+)", message.get_body(("plain",)).get_content())
    assert found, message
    return found.group(1)


def _shown_time(page, iso: str) -> str:
    """How the app writes a timestamp in this browser's locale (format.js `dateTime`)."""
    return page.evaluate("iso => new Date(iso).toLocaleString(undefined, {dateStyle: 'medium', timeStyle: 'short'})", iso)


def test_an_owner_sees_pending_invitations_and_revokes_one(live_server, browser):
    with SmtpSink() as smtp:
        base = live_server(env={"WINDBACK_SMTP_URL": smtp.url}).url
        owner = signup(base, "olive@example.com", name="Olive Owner")
        assert call(base, "POST", "/projects", {"name": "Acme", "slug": "acme"}, token=owner)[0] == 201

        page, watch = signed_in_page(browser, base, owner, allowed_statuses=(409,))
        # (409: the revoke refused on purpose below)
        page.goto(base + "/app/projects/acme/team")
        pending = page.locator("#invitations")
        pending.get_by_text("No pending invitations").wait_for()

        # Each invitation sent from the form shows up in the list: email, role, expiry.
        for address, role in (("pat@example.com", "admin"), ("quinn@example.com", "member")):
            page.locator("#invite").get_by_label("Email").fill(address)
            page.locator("#invite").get_by_label("Role").select_option(role)
            page.get_by_role("button", name="Send invitation").click()
            pending.locator("tr", has_text=address).wait_for()
        listed = {i["email"]: i for i in call(base, "GET", "/projects/acme/invitations", token=owner)[1]["data"]}
        assert set(listed) == {"pat@example.com", "quinn@example.com"}
        for address, role in (("pat@example.com", "admin"), ("quinn@example.com", "member")):
            cells = pending.locator("tr", has_text=address).locator("td").all_text_contents()  # as written, not as styled
            assert cells[:3] == [address, role, _shown_time(page, listed[address]["expires_at"])], cells
        assert "No pending invitations" not in pending.inner_text()
        pat_token = _emailed_token(smtp, "pat@example.com")

        # Revoking asks first, in the page; cancelling keeps the invitation.
        page.get_by_role("button", name="Revoke the invitation to pat@example.com").click()
        dialog = page.locator("dialog.modal")
        dialog.get_by_text("The link sent to pat@example.com stops working at once.").wait_for()
        dialog.get_by_role("button", name="Cancel").click()
        assert dialog.count() == 0
        assert len(call(base, "GET", "/projects/acme/invitations", token=owner)[1]["data"]) == 2
        page.get_by_role("button", name="Revoke the invitation to pat@example.com").click()
        dialog.get_by_role("button", name="Revoke").click()
        page.get_by_text("The invitation to pat@example.com was revoked.").wait_for()
        page.wait_for_function("() => !document.querySelector('#invitations').textContent.includes('pat@example.com')")
        assert [i["email"] for i in call(base, "GET", "/projects/acme/invitations", token=owner)[1]["data"]] == [
            "quinn@example.com"]

        # The emailed link no longer works, even for the invited address.
        pat = signup(base, "pat@example.com", name="Pat")
        status, body = call(base, "POST", f"/invitations/{pat_token}/accept", {}, token=pat)
        assert status == 400 and body["error"]["code"] == "VALIDATION_ERROR", body
        assert "revoked" in body["error"]["message"]
        members = call(base, "GET", "/projects/acme/members", token=owner)[1]["data"]
        assert [m["email"] for m in members] == ["olive@example.com"]

        # Revoked elsewhere meanwhile: the page shows the API's refusal, then the fresh list.
        quinn_id = listed["quinn@example.com"]["id"]
        assert call(base, "DELETE", f"/projects/acme/invitations/{quinn_id}", token=owner)[0] == 204
        page.get_by_role("button", name="Revoke the invitation to quinn@example.com").click()
        dialog.get_by_role("button", name="Revoke").click()
        banner = page.locator(".messages .banner.error")
        banner.wait_for()
        assert "This invitation is already revoked" in banner.inner_text()
        assert "(CONFLICT)" in banner.inner_text()
        pending.get_by_text("No pending invitations").wait_for()
        watch.assert_clean()
        page.context.close()


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
