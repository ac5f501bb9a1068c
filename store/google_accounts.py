"""Users signing in with Google: found by their Google subject, else joined to the account of the
same email, else created.

Joining a password account needs that account's address verified. An unverified account of the
address was never proven to be its owner's (anyone may register any address): Google proves
the address, so its identity takes the account over, removing the password and ending every
session and one-time token issued before (docs/roles.md "Sessions and sign-in").
"""
from __future__ import annotations

import peewee

from store.errors import conflict
from store.db import transaction
from store.models import User, utcnow
from store.users import end_sessions


def user_for_google(sub: str, email: str, name: str | None) -> User:
    """The user of this Google account. An account with the same email is joined to it (taken
    over when its email is unverified); one already linked to another Google account is refused
    (409). Two first sign-ins at once meet the unique constraints, and the second finds the user
    the first created."""
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
        return User.create(email=email, name=name, password_hash=None, google_sub=sub, email_verified=True)
    if user.google_sub is not None:
        raise conflict("This email belongs to an account linked to another Google account")
    verified = bool(user.email_verified)
    # Guarded on what was read: a concurrent link or verification makes this one try again.
    linked = (User.update(google_sub=sub, email_verified=True)
              .where((User.id == user.id) & User.google_sub.is_null() & (User.email_verified == verified))
              .execute())
    if linked != 1:
        raise conflict("This account changed while signing in with Google; try again")
    if not verified:
        end_sessions(user.id, utcnow(), password_hash=None, name=name or user.name)
    return User.get_by_id(user.id)
