"""Who may change whom in a project's team (docs/roles.md): the one place for rules that depend on the
target of a change, not only on the caller's role.

The caller's minimum role per endpoint is declared on the handler (`rules`, checked by
`BaseHandler.resolve_project`); what an admin may do to an owner is decided here. The store
calls these functions inside the transaction that makes the change, with both roles read from
the database in that transaction. The whole matrix is written out in docs/roles.md.
"""
from __future__ import annotations

from store.errors import forbidden

# Invitations never make owners: ownership is given by an owner, to someone already in the team.
INVITABLE_ROLES = ("admin", "member")


def check_invite(actor_role: str, role: str) -> None:
    if actor_role not in ("owner", "admin"):
        raise forbidden("Only owners and admins can invite people")
    if role not in INVITABLE_ROLES:
        raise forbidden("Invitations can only be for the admin or member role")


def check_member_change(actor_role: str, target_role: str, new_role: str | None = None) -> None:
    """`new_role` None: removing the target. Raises 403 when the caller may not do it."""
    if actor_role == "owner":
        return
    if actor_role != "admin":
        raise forbidden("Only owners and admins can change the team")
    if target_role == "owner":
        raise forbidden("Only an owner can remove or demote an owner")
    if new_role == "owner":
        raise forbidden("Only an owner can make someone an owner")
