"""Users signing in with Google: found by their Google subject, else linked by email, else created."""
from __future__ import annotations

import peewee

from store.errors import conflict
from store.db import transaction
from store.models import User


def user_for_google(sub: str, email: str, name: str | None) -> User:
    """The user of this Google account. An account with the same (verified) email is linked to
    it; one already linked to another Google account is refused (409). Two first sign-ins at
    once meet the unique constraints, and the second finds the user the first created."""
    email = email.lower()
    for attempt in range(2):
        try:
            with transaction():
                return _find_or_create(sub, email, name)
        except peewee.IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _find_or_create(sub: str, email: str, name: str | None) -> User:
    user = User.get_or_none(User.google_sub == sub)
    if user is not None:
        return user
    user = User.get_or_none(User.email == email)
    if user is None:
        return User.create(email=email, name=name, password_hash=None, google_sub=sub)
    if user.google_sub is not None:
        raise conflict("This email belongs to an account linked to another Google account")
    linked = User.update(google_sub=sub).where((User.id == user.id) & User.google_sub.is_null()).execute()
    if linked != 1:
        raise conflict("This email belongs to an account linked to another Google account")
    return user
