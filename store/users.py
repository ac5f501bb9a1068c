"""Users, password-reset tokens and the server-wide signing secret."""
from __future__ import annotations

import datetime as dt
import secrets

import peewee

from store.db import transaction
from store.models import Membership, PasswordResetToken, Project, ServerSetting, User, utcnow
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


def user_with_projects(user_id: str) -> dict | None:
    user = user_by_id(user_id)
    if user is None:
        return None
    rows = (Membership.select(Membership.role, Project.slug, Project.name)
            .join(Project).where(Membership.user == user_id).order_by(Project.created_at))
    data = user_json(user)
    data["projects"] = [{"slug": m.project.slug, "name": m.project.name, "role": m.role} for m in rows]
    return data


def store_reset_token(user_id: str, token_hash: str, ttl: dt.timedelta) -> None:
    with transaction():
        PasswordResetToken.create(token_hash=token_hash, user=user_id, expires_at=utcnow() + ttl)


def consume_reset_token(token_hash: str, password_hash: str) -> bool:
    """Set the new password if the token is known, unused and unexpired. Single use is guarded
    by a conditional UPDATE, so two concurrent resets with one token cannot both succeed."""
    now = utcnow()
    with transaction():
        token = PasswordResetToken.get_or_none(PasswordResetToken.token_hash == token_hash)
        if token is None:
            return False
        used = (PasswordResetToken.update(used_at=now)
                .where((PasswordResetToken.token_hash == token_hash)
                       & PasswordResetToken.used_at.is_null()
                       & (PasswordResetToken.expires_at > now))
                .execute())
        if used != 1:
            return False
        User.update(password_hash=password_hash).where(User.id == token.user_id).execute()
        return True


def shared_secret() -> str:
    """The generated signing secret, created once and shared by every process."""
    row = ServerSetting.get_or_none(ServerSetting.key == "jwt_secret")
    if row:
        return row.value
    with transaction():
        ServerSetting.insert(key="jwt_secret", value=secrets.token_urlsafe(48)).on_conflict_ignore().execute()
    return ServerSetting.get(ServerSetting.key == "jwt_secret").value
