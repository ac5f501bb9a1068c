"""A project's team: members and invitations, with the transitions the team endpoints make.

Every transition runs in one transaction that first locks the project's row (PostgreSQL; on
SQLite the IMMEDIATE write transaction already serializes writers), re-reads the caller's role,
asks `store.team_policy` whether the caller may do it, and only then writes. So two owners
removing each other at once cannot leave a project without an owner, and an accepted invitation
cannot be accepted again (conditional UPDATE ... WHERE accepted_at IS NULL).

Invitation tokens are stored only as SHA-256 hashes; the token itself travels in the email.
"""
from __future__ import annotations

import datetime as dt

import peewee

from store.errors import Invalid, conflict, forbidden, not_found
from store.team_policy import check_invite, check_member_change
from store.db import transaction
from store.models import BaseModel, Membership, Project, User, new_id, utcnow
from store.projects import lock_project
from store.serialize import iso

INVITATION_TTL = dt.timedelta(days=7)
MEMBER_SORT_FIELDS = ("joined_at", "email", "role")


class Invitation(BaseModel):
    id = peewee.CharField(primary_key=True, max_length=40, default=lambda: new_id("inv"))
    project = peewee.ForeignKeyField(Project, backref="invitations", on_delete="CASCADE", index=False)
    email = peewee.CharField(max_length=254)  # lower-cased
    role = peewee.CharField(max_length=16)
    token_hash = peewee.CharField(max_length=64, unique=True)
    invited_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = peewee.DateTimeField(default=utcnow)
    expires_at = peewee.DateTimeField()
    accepted_at = peewee.DateTimeField(null=True)
    accepted_by = peewee.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    revoked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "invitations"
        indexes = ((("project", "email"), False), (("project", "created_at"), False))


# At most one open (not accepted, not revoked) invitation per address and project; created by
# the migration, on both databases.
OPEN_INVITATION_INDEX = (
    "CREATE UNIQUE INDEX IF NOT EXISTS invitations_one_open_per_email ON invitations "
    "(project_id, email) WHERE accepted_at IS NULL AND revoked_at IS NULL"
)


def invitation_status(invitation: Invitation, now: dt.datetime | None = None) -> str:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.expires_at <= (now or utcnow()):
        return "expired"
    return "pending"


def invitation_json(invitation: Invitation) -> dict:
    """Never the token: it exists only in the email."""
    return {
        "id": invitation.id,
        "email": invitation.email,
        "role": invitation.role,
        "status": invitation_status(invitation),
        "created_at": iso(invitation.created_at),
        "expires_at": iso(invitation.expires_at),
    }


def member_json(membership: Membership) -> dict:
    return {
        "user_id": membership.user.id,
        "email": membership.user.email,
        "name": membership.user.name,
        "role": membership.role,
        "joined_at": iso(membership.joined_at),
    }


# --- helpers used inside a transaction -------------------------------------------------------

def _membership(project_id: str, user_id: str) -> Membership | None:
    return (Membership.select(Membership, User).join(User)
            .where((Membership.project == project_id) & (Membership.user == user_id)).first())


def _role_of(project_id: str, user_id: str) -> str:
    """The caller's role now; a caller removed meanwhile no longer sees the project."""
    found = _membership(project_id, user_id)
    if found is None:
        raise not_found("Project")
    return found.role


def _owner_count(project_id: str) -> int:
    return Membership.select().where((Membership.project == project_id) & (Membership.role == "owner")).count()


def _open_invitations(project_id: str):
    return ((Invitation.project == project_id) & Invitation.accepted_at.is_null()
            & Invitation.revoked_at.is_null())


# --- members ---------------------------------------------------------------------------------

def add_member(project_id: str, user_id: str, role: str) -> Membership:
    with transaction():
        return Membership.create(project=project_id, user=user_id, role=role)


def list_members(project_id: str, sort: str, order: str, offset: int, limit: int) -> tuple[list[dict], int]:
    query = Membership.select(Membership, User).join(User).where(Membership.project == project_id)
    total = query.count()
    column = {"joined_at": Membership.joined_at, "email": User.email, "role": Membership.role}[sort]
    ordering = column.asc() if order == "asc" else column.desc()
    rows = query.order_by(ordering, User.email).offset(offset).limit(limit)
    return [member_json(m) for m in rows], total


def _check_member_change(project_id: str, actor_id: str, target_user_id: str, new_role: str | None) -> Membership:
    """Inside a team transaction: the target membership, if the actor may change it (to
    `new_role`, or remove it when None) and a project keeps at least one owner."""
    lock_project(project_id)
    actor_role = _role_of(project_id, actor_id)
    target = _membership(project_id, target_user_id)
    if target is None:
        raise not_found("Member")
    check_member_change(actor_role, target.role, new_role)
    if target.role == "owner" and new_role != "owner" and _owner_count(project_id) <= 1:
        raise conflict("This is the project's last owner; make someone else owner first")
    return target


def change_role(project_id: str, actor_id: str, target_user_id: str, new_role: str) -> dict:
    with transaction():
        target = _check_member_change(project_id, actor_id, target_user_id, new_role)
        (Membership.update(role=new_role)
         .where((Membership.project == project_id) & (Membership.user == target_user_id)).execute())
        target.role = new_role
        return member_json(target)


def remove_member(project_id: str, actor_id: str, target_user_id: str) -> None:
    with transaction():
        _check_member_change(project_id, actor_id, target_user_id, None)
        (Membership.delete()
         .where((Membership.project == project_id) & (Membership.user == target_user_id)).execute())


# --- invitations -----------------------------------------------------------------------------

def create_invitation(project_id: str, actor_id: str, email: str, role: str, token_hash: str) -> Invitation:
    """A pending invitation; an open one for the same address is revoked (replaced)."""
    email = email.lower()
    now = utcnow()
    with transaction():
        lock_project(project_id)
        check_invite(_role_of(project_id, actor_id), role)
        already = (Membership.select().join(User)
                   .where((Membership.project == project_id) & (User.email == email)).exists())
        if already:
            raise conflict(f"{email} is already a member of this project")
        Invitation.update(revoked_at=now).where(_open_invitations(project_id) & (Invitation.email == email)).execute()
        return Invitation.create(project=project_id, email=email, role=role, token_hash=token_hash,
                                 invited_by=actor_id, created_at=now, expires_at=now + INVITATION_TTL)


def revoke_invitation(project_id: str, invitation_id: str) -> None:
    """Revoke a pending (or expired, never used) invitation; its link stops working at once."""
    with transaction():
        invitation = Invitation.get_or_none((Invitation.id == invitation_id) & (Invitation.project == project_id))
        if invitation is None:
            raise not_found("Invitation")
        revoked = (Invitation.update(revoked_at=utcnow())
                   .where((Invitation.id == invitation_id) & Invitation.accepted_at.is_null()
                          & Invitation.revoked_at.is_null())
                   .execute())
        if revoked != 1:
            raise conflict(f"This invitation is already {invitation_status(invitation)}")


def list_pending_invitations(project_id: str, order: str, offset: int, limit: int) -> tuple[list[dict], int]:
    query = Invitation.select().where(_open_invitations(project_id) & (Invitation.expires_at > utcnow()))
    total = query.count()
    ordering = Invitation.created_at.asc() if order == "asc" else Invitation.created_at.desc()
    rows = query.order_by(ordering, Invitation.id).offset(offset).limit(limit)
    return [invitation_json(i) for i in rows], total


def accept_invitation(token_hash: str, user_id: str) -> tuple[Project, str]:
    """Make the signed-in user a member with the invited role. The user's email must be the
    invited one (403); an unknown, used, revoked or expired token: 400."""
    now = utcnow()
    with transaction():
        invitation = Invitation.get_or_none(Invitation.token_hash == token_hash)
        if invitation is None:
            raise _invalid_invitation("This invitation link is not valid")
        user = User.get_by_id(user_id)
        if user.email.lower() != invitation.email:
            raise forbidden("This invitation was sent to another email address; sign in with that address")
        claimed = (Invitation.update(accepted_at=now, accepted_by=user_id)
                   .where((Invitation.id == invitation.id) & Invitation.accepted_at.is_null()
                          & Invitation.revoked_at.is_null() & (Invitation.expires_at > now))
                   .execute())
        if claimed != 1:
            raise _invalid_invitation(f"This invitation is {invitation_status(invitation, now)}; "
                                      "ask for a new one")
        if _membership(invitation.project_id, user_id) is not None:
            raise conflict("You are already a member of this project")  # rolls the claim back
        Membership.create(project=invitation.project_id, user=user_id, role=invitation.role, joined_at=now)
        return Project.get_by_id(invitation.project_id), invitation.role


def _invalid_invitation(message: str) -> Invalid:
    return Invalid(message, [{"field": "token", "message": message}])
