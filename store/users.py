"""Users, their one-time tokens (password reset, email verification), the token generation that
ends sessions, and the server-wide signing secret."""
from __future__ import annotations

import datetime as dt
import secrets

import peewee

from store.db import transaction
from store.models import (EmailVerificationToken, Membership, PasswordResetToken, Project, ServerSetting, User,
                          utcnow)
from store.serialize import iso


class EmailTaken(Exception):
    pass


def user_json(user: User) -> dict:
    return {"id": user.id, "email": user.email, "name": user.name, "created_at": iso(user.created_at)}


def create_user(email: str, name: str | None, password_hash: str | None, google_sub: str | None = None) -> User:
    try:
        with transaction():
            return User.create(email=email.lower(), name=name, password_hash=password_hash, google_sub=google_sub)
    except peewee.IntegrityError:
        raise EmailTaken(email) from None


def user_by_email(email: str) -> User | None:
    return User.get_or_none(User.email == email.lower())


def user_by_id(user_id: str) -> User | None:
    return User.get_or_none(User.id == user_id)


def token_generation(user_id: str) -> int | None:
    """The generation a JWT of this user must carry (None: no such user). The one query that
    authenticating a JWT costs."""
    row = User.select(User.token_generation).where(User.id == user_id).tuples().first()
    return row[0] if row else None


def user_with_projects(user_id: str) -> dict | None:
    user = user_by_id(user_id)
    if user is None:
        return None
    rows = (Membership.select(Membership.role, Project.slug, Project.name)
            .join(Project).where(Membership.user == user_id).order_by(Project.created_at))
    data = user_json(user)
    data["email_verified"] = bool(user.email_verified)
    data["projects"] = [{"slug": m.project.slug, "name": m.project.name, "role": m.role} for m in rows]
    return data


def store_reset_token(user_id: str, token_hash: str, ttl: dt.timedelta) -> None:
    with transaction():
        PasswordResetToken.create(token_hash=token_hash, user=user_id, expires_at=utcnow() + ttl)


def store_verification_token(user_id: str, token_hash: str, ttl: dt.timedelta) -> None:
    with transaction():
        EmailVerificationToken.create(token_hash=token_hash, user=user_id, expires_at=utcnow() + ttl)


def _use_token(model, token_hash: str, now: dt.datetime) -> str | None:
    """Mark a one-time token used; its user's id, or None when unknown, used or expired. A
    conditional UPDATE, so two concurrent uses of one token cannot both succeed."""
    token = model.get_or_none(model.token_hash == token_hash)
    if token is None:
        return None
    used = (model.update(used_at=now)
            .where((model.token_hash == token_hash) & model.used_at.is_null() & (model.expires_at > now))
            .execute())
    return token.user_id if used == 1 else None


def end_sessions(user_id: str, now: dt.datetime, **changes) -> None:
    """Apply `changes` to the user and end everything issued before: every JWT (the token
    generation moves on) and every outstanding reset or verification token."""
    User.update(token_generation=User.token_generation + 1, **changes).where(User.id == user_id).execute()
    for model in (PasswordResetToken, EmailVerificationToken):
        model.update(used_at=now).where((model.user == user_id) & model.used_at.is_null()).execute()


def consume_reset_token(token_hash: str, password_hash: str) -> bool:
    """Set the new password if the token is known, unused and unexpired. The link reached the
    inbox, so the address is proven too; every JWT and every other token issued before ends."""
    now = utcnow()
    with transaction():
        user_id = _use_token(PasswordResetToken, token_hash, now)
        if user_id is None:
            return False
        end_sessions(user_id, now, password_hash=password_hash, email_verified=True)
        return True


def consume_verification_token(token_hash: str) -> bool:
    """Mark the address of the token's user verified, if the token is known, unused and unexpired."""
    with transaction():
        user_id = _use_token(EmailVerificationToken, token_hash, utcnow())
        if user_id is None:
            return False
        User.update(email_verified=True).where(User.id == user_id).execute()
        return True


def shared_secret() -> str:
    """The generated signing secret, created once and shared by every process."""
    row = ServerSetting.get_or_none(ServerSetting.key == "jwt_secret")
    if row:
        return row.value
    with transaction():
        ServerSetting.insert(key="jwt_secret", value=secrets.token_urlsafe(48)).on_conflict_ignore().execute()
    return ServerSetting.get(ServerSetting.key == "jwt_secret").value
