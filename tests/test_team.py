"""Team invitations end to end, with a real SMTP server (aiosmtpd) receiving the emails."""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import re

import pytest
from aiosmtpd.controller import Controller

from store.db import unit_of_work
from store.models import utcnow
from store.team import Invitation
from tests.conftest import free_port
from tests.helpers import is_address_check

LINK = re.compile(r"(http://windback\.test/app/accept-invitation\?token=)([A-Za-z0-9_\-]+)")


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self, port: int):
        self.port = port
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        if not is_address_check(message):
            self.messages.append(message)
        return "250 OK"

    def token_in(self, message) -> str:
        text = message.get_body(preferencelist=("plain",)).get_content()
        match = LINK.search(text)
        assert match, text
        return match.group(2)


@pytest.fixture
def inbox():
    handler = Inbox(free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    handler.controller = controller
    yield handler
    if controller._thread is not None:
        controller.stop()


@pytest.fixture
def test_env(test_env, inbox):
    return {**test_env, "WINDBACK_SMTP_URL": f"smtp://127.0.0.1:{inbox.port}"}


async def invite(api, token, email_address, role="member", slug="acme"):
    response = await api.post(f"/projects/{slug}/invitations", {"email": email_address, "role": role}, token=token)
    assert response.status == 201, response
    return response


@pytest.mark.gen_test
async def test_invitation_arrives_by_email_and_only_the_invited_address_can_accept(api, inbox):
    owner, _ = await api.owner()
    created = await invite(api, owner, "Bob@Example.com", role="admin")
    assert set(created.data) == {"id", "email", "role", "status", "created_at", "expires_at"}
    assert created.data["email"] == "bob@example.com" and created.data["role"] == "admin"
    assert created.data["status"] == "pending"
    expires = dt.datetime.fromisoformat(created.data["expires_at"].rstrip("Z"))
    assert dt.timedelta(days=6, hours=23) < expires - utcnow() <= dt.timedelta(days=7)

    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "bob@example.com" and "Acme" in message["Subject"]
    token = inbox.token_in(message)
    listed = await api.get("/projects/acme/invitations", token=owner)
    assert [i["id"] for i in listed.data] == [created.data["id"]] and listed.json["meta"]["total"] == 1
    assert token not in created.text and token not in listed.text

    carol = await api.signup(email="carol@example.com")
    refused = await api.post(f"/invitations/{token}/accept", token=carol)
    assert refused.status == 403 and refused.error["code"] == "FORBIDDEN"
    assert (await api.get("/projects/acme", token=carol)).status == 404

    bob = await api.signup(email="bob@example.com", name="Bob")
    assert (await api.get("/projects/acme", token=bob)).status == 404
    accepted = await api.post(f"/invitations/{token}/accept", token=bob)
    assert accepted.status == 200, accepted
    assert accepted.data["role"] == "admin" and accepted.data["project"]["slug"] == "acme"
    assert (await api.get("/projects/acme", token=bob)).status == 200
    members = await api.get("/projects/acme/members", token=bob)
    owner_email = (await api.get("/auth/me", token=owner)).data["email"]
    assert {(m["email"], m["role"]) for m in members.data} == {(owner_email, "owner"), ("bob@example.com", "admin")}
    bob_row = next(m for m in members.data if m["email"] == "bob@example.com")
    assert set(bob_row) == {"user_id", "email", "name", "role", "joined_at"} and bob_row["name"] == "Bob"

    again = await api.post(f"/invitations/{token}/accept", token=bob)
    assert again.status == 400 and again.error["code"] == "VALIDATION_ERROR"
    assert (await api.get("/projects/acme/invitations", token=owner)).data == []
    # The API never hands a token back, even to the project's owner.
    assert token not in (await api.get("/projects/acme/members", token=owner)).text


@pytest.mark.gen_test
async def test_expired_invitation_is_refused(api, inbox):
    owner, project = await api.owner()
    created = await invite(api, owner, "late@example.com")
    token = inbox.token_in(inbox.messages[-1])
    with_key = await api.post(f"/invitations/{token}/accept", key=project["secret_key"])
    assert with_key.status == 403  # an API key never manages a team
    with unit_of_work():
        Invitation.update(expires_at=utcnow() - dt.timedelta(minutes=1)).where(
            Invitation.id == created.data["id"]).execute()
    late = await api.signup(email="late@example.com")
    refused = await api.post(f"/invitations/{token}/accept", token=late)
    assert refused.status == 400 and "expired" in refused.error["message"]
    assert (await api.get("/projects/acme", token=late)).status == 404
    assert (await api.get("/projects/acme/invitations", token=owner)).data == []


@pytest.mark.gen_test
async def test_revoked_invitation_is_refused(api, inbox):
    owner, _ = await api.owner()
    created = await invite(api, owner, "gone@example.com")
    token = inbox.token_in(inbox.messages[-1])
    revoked = await api.delete(f"/projects/acme/invitations/{created.data['id']}", token=owner)
    assert revoked.status == 204 and revoked.text == ""
    assert (await api.get("/projects/acme/invitations", token=owner)).data == []
    gone = await api.signup(email="gone@example.com")
    refused = await api.post(f"/invitations/{token}/accept", token=gone)
    assert refused.status == 400 and "revoked" in refused.error["message"]
    assert (await api.get("/projects/acme", token=gone)).status == 404
    assert (await api.delete(f"/projects/acme/invitations/{created.data['id']}", token=owner)).status == 409
    assert (await api.delete("/projects/acme/invitations/inv_unknown", token=owner)).status == 404
    unknown = await api.post("/invitations/not-a-real-token/accept", token=gone)
    assert unknown.status == 400


@pytest.mark.gen_test
async def test_reinviting_a_pending_address_replaces_the_old_invitation(api, inbox):
    owner, _ = await api.owner()
    first = await invite(api, owner, "dan@example.com", role="member")
    second = await invite(api, owner, "dan@example.com", role="admin")
    old_token, new_token = inbox.token_in(inbox.messages[0]), inbox.token_in(inbox.messages[1])
    assert old_token != new_token
    listed = await api.get("/projects/acme/invitations", token=owner)
    assert [(i["id"], i["role"]) for i in listed.data] == [(second.data["id"], "admin")]
    assert first.data["id"] != second.data["id"]

    dan = await api.signup(email="dan@example.com")
    assert (await api.post(f"/invitations/{old_token}/accept", token=dan)).status == 400
    accepted = await api.post(f"/invitations/{new_token}/accept", token=dan)
    assert accepted.status == 200 and accepted.data["role"] == "admin"


@pytest.mark.gen_test
async def test_inviting_a_member_or_an_owner_is_refused(api, inbox):
    owner, _ = await api.owner()
    me = await api.get("/auth/me", token=owner)
    taken = await api.post("/projects/acme/invitations", {"email": me.data["email"], "role": "member"}, token=owner)
    assert taken.status == 409 and taken.error["code"] == "CONFLICT"
    as_owner = await api.post("/projects/acme/invitations", {"email": "x@example.com", "role": "owner"}, token=owner)
    assert as_owner.status == 400 and as_owner.error["details"][0]["field"] == "role"
    bad_email = await api.post("/projects/acme/invitations", {"email": "nope", "role": "member"}, token=owner)
    assert bad_email.status == 400
    assert inbox.messages == []
    assert (await api.get("/projects/acme/invitations", token=owner)).data == []


async def join(api, inbox, owner, email_address, role):
    """A user who joined through a real invitation: (token, user_id)."""
    await invite(api, owner, email_address, role=role)
    token = await api.signup(email=email_address)
    accepted = await api.post(f"/invitations/{inbox.token_in(inbox.messages[-1])}/accept", token=token)
    assert accepted.status == 200, accepted
    return token, (await api.get("/auth/me", token=token)).data["id"]


@pytest.mark.gen_test
async def test_a_removed_member_loses_access_on_the_next_request(api, inbox):
    owner, project = await api.owner()
    erin, erin_id = await join(api, inbox, owner, "erin@example.com", "member")
    assert (await api.get("/projects/acme/churn-events", token=erin)).status == 200
    removed = await api.delete(f"/projects/acme/members/{erin_id}", token=owner)
    assert removed.status == 204
    # The same (still valid) JWT: membership is read on every request.
    assert (await api.get("/projects/acme/churn-events", token=erin)).status == 404
    assert (await api.post("/projects/acme/churn-events", {"customer_email": "c@x.co"}, token=erin)).status == 404
    assert (await api.get("/auth/me", token=erin)).data["projects"] == []
    assert (await api.delete(f"/projects/acme/members/{erin_id}", token=owner)).status == 404


@pytest.mark.gen_test
async def test_the_last_owner_cannot_be_removed_or_demoted(api, inbox):
    owner, _ = await api.owner()
    owner_id = (await api.get("/auth/me", token=owner)).data["id"]
    assert (await api.delete(f"/projects/acme/members/{owner_id}", token=owner)).status == 409
    demote = await api.patch(f"/projects/acme/members/{owner_id}", {"role": "admin"}, token=owner)
    assert demote.status == 409 and demote.error["code"] == "CONFLICT"

    fay, fay_id = await join(api, inbox, owner, "fay@example.com", "admin")
    promoted = await api.patch(f"/projects/acme/members/{fay_id}", {"role": "owner"}, token=owner)
    assert promoted.status == 200 and promoted.data["role"] == "owner"
    # Two owners now: the first may step down; then Fay is the last one.
    assert (await api.patch(f"/projects/acme/members/{owner_id}", {"role": "member"}, token=owner)).status == 200
    assert (await api.patch(f"/projects/acme/members/{fay_id}", {"role": "admin"}, token=fay)).status == 409
    assert (await api.delete(f"/projects/acme/members/{fay_id}", token=fay)).status == 409
    roles = {m["user_id"]: m["role"] for m in (await api.get("/projects/acme/members", token=fay)).data}
    assert roles == {owner_id: "member", fay_id: "owner"}
    # The demoted first owner now has a member's powers: no settings.
    assert (await api.patch("/projects/acme", {"name": "Mine"}, token=owner)).status == 403


@pytest.mark.gen_test
async def test_admins_manage_members_but_never_owners(api, inbox):
    owner, _ = await api.owner()
    owner_id = (await api.get("/auth/me", token=owner)).data["id"]
    gus, _ = await join(api, inbox, owner, "gus@example.com", "admin")
    _, hal_id = await join(api, inbox, owner, "hal@example.com", "member")
    # An admin may invite admins, but not remove or demote an owner, nor change roles.
    assert (await api.post("/projects/acme/invitations", {"email": "ivy@example.com", "role": "admin"},
                           token=gus)).status == 201
    refused = await api.delete(f"/projects/acme/members/{owner_id}", token=gus)
    assert refused.status == 403 and "owner" in refused.error["message"]
    assert (await api.patch(f"/projects/acme/members/{hal_id}", {"role": "owner"}, token=gus)).status == 403
    assert (await api.delete(f"/projects/acme/members/{hal_id}", token=gus)).status == 204
    roles = sorted(m["role"] for m in (await api.get("/projects/acme/members", token=owner)).data)
    assert roles == ["admin", "owner"]


@pytest.mark.gen_test
async def test_member_list_is_paginated_and_validated(api, inbox):
    owner, _ = await api.owner()
    await join(api, inbox, owner, "jo@example.com", "member")
    page = await api.get("/projects/acme/members?per_page=1&sort=email&order=asc", token=owner)
    assert page.status == 200 and len(page.data) == 1 and page.json["meta"]["total"] == 2
    assert page.data[0]["email"] == "jo@example.com"
    assert (await api.get("/projects/acme/members?sort=password", token=owner)).status == 400


@pytest.mark.gen_test
async def test_an_invitation_whose_email_fails_is_not_kept(api, inbox):
    owner, _ = await api.owner()
    inbox.controller.stop()  # the mail server is down
    failed = await api.post("/projects/acme/invitations", {"email": "kim@example.com", "role": "member"}, token=owner)
    assert failed.status == 502 and failed.error["code"] == "DELIVERY_FAILED"
    assert (await api.get("/projects/acme/invitations", token=owner)).data == []


@pytest.mark.gen_test
async def test_two_accepts_of_one_invitation_at_once_make_one_membership(api, inbox):
    import asyncio

    owner, _ = await api.owner()
    await invite(api, owner, "max@example.com")
    token = inbox.token_in(inbox.messages[-1])
    max_token = await api.signup(email="max@example.com")
    results = await asyncio.gather(*[api.post(f"/invitations/{token}/accept", token=max_token) for _ in range(4)])
    assert sorted(r.status for r in results) == [200, 400, 400, 400]
    members = (await api.get("/projects/acme/members", token=owner)).data
    assert sorted(m["email"] for m in members if m["role"] == "member") == ["max@example.com"]


def test_owners_removing_each_other_in_parallel_never_leave_a_project_without_an_owner(ctx):
    """Two server processes (here: two threads) removing each other at the same instant: the
    project's row lock makes the last-owner check and the delete one step."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from handlers.errors import DomainError, http_status
    from store import projects, team, users
    from store.models import Membership

    with unit_of_work():
        first = users.create_user("first@example.com", None, None).id
        second = users.create_user("second@example.com", None, None).id

    def remove(project_id, actor, target, barrier):
        barrier.wait()
        try:
            with unit_of_work():
                team.remove_member(project_id, actor, target)
            return 204
        except DomainError as error:
            return http_status(error)

    with ThreadPoolExecutor(2) as pool:
        for round_number in range(12):
            with unit_of_work():
                project, _ = projects.create_project(first, "Race", f"race-{round_number}")
                team.add_member(project.id, second, "owner")
            barrier = threading.Barrier(2)
            statuses = sorted(pool.map(lambda pair: remove(project.id, *pair, barrier),
                                       [(first, second), (second, first)]))
            with unit_of_work():
                owners = Membership.select().where((Membership.project == project.id)
                                                   & (Membership.role == "owner")).count()
            assert owners == 1 and statuses[0] == 204 and statuses[1] in (404, 409), (round_number, statuses)
