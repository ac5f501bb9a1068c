"""The Team endpoints (docs/roles.md): invitations, members, and accepting an invitation.

Who may call what is declared per method in `rules` (checked by `BaseHandler`); what depends on
the target of a change (an admin touching an owner) is decided by `store.team_policy`, inside
the store's transaction. docs/roles.md has the whole matrix.
"""
from __future__ import annotations

import logging

from handlers.access import PROJECT_ADMIN, PROJECT_OWNER, Rule, SIGNED_IN
from handlers.base import BaseHandler, list_query_schema
from handlers.errors import ApiError
from handlers.responses import PROJECT_OUT, ROLE, STRING, TIMESTAMP, Returns, enum, nullable, obj
from store.validation import Choice, Email, Schema
from services.mailer import DeliveryFailed, build_message
from store.keys import new_token, sha256_hex
from store.team_policy import INVITABLE_ROLES
from store import projects, team, users
from store.db import run_db
from store.models import ROLES

log = logging.getLogger("windback.team")

# Reading the member list: any member, but never an API key (team management, docs/roles.md).
TEAM_MEMBER = Rule(user=True, role="member")

INVITE = Schema({"email": Email(required=True), "role": Choice(INVITABLE_ROLES, required=True)})
ROLE_CHANGE = Schema({"role": Choice(ROLES, required=True)})
MEMBERS_LIST = list_query_schema(team.MEMBER_SORT_FIELDS, default_sort="joined_at")
INVITATIONS_LIST = list_query_schema(("created_at",))
INVITATION_OUT = obj({"id": STRING, "email": STRING, "role": ROLE,
                      "status": enum(("pending", "accepted", "revoked", "expired")),
                      "created_at": TIMESTAMP, "expires_at": TIMESTAMP})
MEMBER_OUT = obj({"user_id": STRING, "email": STRING, "name": nullable(STRING), "role": ROLE, "joined_at": TIMESTAMP})


class InvitationsHandler(BaseHandler):
    """Pending invitations of a project; invite someone by email."""

    rules = {"GET": PROJECT_ADMIN, "POST": PROJECT_ADMIN}
    query_schemas = {"GET": INVITATIONS_LIST}
    body_schemas = {"POST": INVITE}
    response_schemas = {"GET": Returns(INVITATION_OUT, paged=True), "POST": Returns(INVITATION_OUT, status=201)}

    async def get(self, slug):
        query = self.parse_query(INVITATIONS_LIST)
        rows, total = await run_db(team.list_pending_invitations, self.project.id, query["order"],
                                   self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))

    async def post(self, slug):
        body = self.parse_body(INVITE)
        token = new_token()
        # The message is built before the invitation exists: one that cannot be built leaves nothing.
        message = await self.invitation_message(body["email"], body["role"], token)
        invitation = await run_db(team.create_invitation, self.project.id, self.user_id, body["email"],
                                  body["role"], sha256_hex(token))
        try:
            await self.ctx.mailer.send(message)
        except BaseException as error:
            # The token lives only in the email: an invitation whose email failed is useless.
            await run_db(team.revoke_invitation, self.project.id, invitation.id)
            if not isinstance(error, DeliveryFailed):
                raise
            log.warning("invitation %s not delivered: %s", invitation.id, error)
            raise ApiError(502, "DELIVERY_FAILED", f"The invitation email could not be sent: {error}") from None
        await self.reply(team.invitation_json(invitation), status=201)

    async def invitation_message(self, email: str, role: str, token: str):
        inviter = await run_db(users.user_by_id, self.user_id)
        who = (inviter.name or inviter.email) if inviter else "Someone"
        settings = self.ctx.settings
        link = f"{settings.public_url}/app/accept-invitation?token={token}"
        # Names are one line since input validation; a name stored before that is flattened.
        project_name = " ".join(self.project.name.split())
        text = (f"Hello,\n\n{who} invited you to join the project \"{project_name}\" on Windback "
                f"as {role}.\n\nOpen this link within 7 days to accept (sign in or create an "
                f"account with {email} first):\n\n{link}\n\n"
                "If you did not expect this invitation, ignore this email.\n")
        return build_message(settings.mail_from, email, f"Join {project_name} on Windback", text)


class InvitationHandler(BaseHandler):
    """Revoke a pending invitation."""

    rules = {"DELETE": PROJECT_ADMIN}
    response_schemas = {"DELETE": Returns(None, status=204)}

    async def delete(self, slug, invitation_id):
        await run_db(team.revoke_invitation, self.project.id, invitation_id)
        await self.reply(None, status=204)


class AcceptInvitationHandler(BaseHandler):
    """Accept an invitation (the signed-in user's email must be the invited one)."""

    rules = {"POST": SIGNED_IN}
    response_schemas = {"POST": Returns(obj({"project": PROJECT_OUT, "role": ROLE}))}

    async def post(self, token):
        project, role = await run_db(team.accept_invitation, sha256_hex(token), self.user_id)
        await self.reply({"project": projects.project_json(project), "role": role})


class MembersHandler(BaseHandler):
    """The members of a project."""

    rules = {"GET": TEAM_MEMBER}
    query_schemas = {"GET": MEMBERS_LIST}
    response_schemas = {"GET": Returns(MEMBER_OUT, paged=True)}

    async def get(self, slug):
        query = self.parse_query(MEMBERS_LIST)
        rows, total = await run_db(team.list_members, self.project.id, query["sort"], query["order"],
                                   self.offset(query), query["per_page"])
        await self.reply(rows, meta=self.page_meta(query, total))


class MemberHandler(BaseHandler):
    """Change a member's role, or remove a member."""

    # Changing roles is for owners; removing is for admins too, except removing an owner, which
    # store.team_policy refuses to admins.
    rules = {"PATCH": PROJECT_OWNER, "DELETE": PROJECT_ADMIN}
    body_schemas = {"PATCH": ROLE_CHANGE}
    response_schemas = {"PATCH": Returns(MEMBER_OUT), "DELETE": Returns(None, status=204)}

    async def patch(self, slug, user_id):
        body = self.parse_body(ROLE_CHANGE)
        member = await run_db(team.change_role, self.project.id, self.user_id, user_id, body["role"])
        await self.reply(member)

    async def delete(self, slug, user_id):
        await run_db(team.remove_member, self.project.id, self.user_id, user_id)
        await self.reply(None, status=204)


_PROJECT = r"/api/v1/projects/(?P<slug>[^/]+)"
default_handlers = [
    (_PROJECT + r"/invitations", InvitationsHandler),
    (_PROJECT + r"/invitations/(?P<invitation_id>[^/]+)", InvitationHandler),
    (_PROJECT + r"/members", MembersHandler),
    (_PROJECT + r"/members/(?P<user_id>[^/]+)", MemberHandler),
    (r"/api/v1/invitations/(?P<token>[^/]+)/accept", AcceptInvitationHandler),
]
