"""`Idempotency-Key` records (SPEC 3): scoped to the credential, kept 24 h, 2xx answers only."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee

from store.db import transaction
from store.models import IdempotencyKey, utcnow

KEEP = dt.timedelta(hours=24)


@dataclass(frozen=True)
class Outcome:
    kind: str  # claimed | replay | conflict
    status: int = 0
    body: str = ""
    message: str = ""


def claim(scope: str, key: str, method: str, path: str, body_hash: str) -> Outcome:
    now = utcnow()
    with transaction():
        IdempotencyKey.delete().where((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key)
                                      & (IdempotencyKey.created_at < now - KEEP)).execute()
        try:
            with transaction():
                IdempotencyKey.create(scope=scope, key=key, method=method, path=path, body_hash=body_hash,
                                      created_at=now)
            return Outcome("claimed")
        except peewee.IntegrityError:
            pass
        row = IdempotencyKey.get((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key))
    if row.method != method or row.path != path or row.body_hash != body_hash:
        return Outcome("conflict", message="This Idempotency-Key was already used with another request")
    if row.state != "done":
        return Outcome("conflict", message="A request with this Idempotency-Key is still in progress")
    return Outcome("replay", row.response_status, row.response_body)


def complete(scope: str, key: str, status: int, body: str) -> None:
    with transaction():
        if 200 <= status < 300:
            (IdempotencyKey.update(state="done", response_status=status, response_body=body)
             .where((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key)).execute())
        else:
            release(scope, key)


def release(scope: str, key: str) -> None:
    with transaction():
        IdempotencyKey.delete().where((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key)
                                      & (IdempotencyKey.state == "in_flight")).execute()


def purge_expired() -> int:
    with transaction():
        return IdempotencyKey.delete().where(IdempotencyKey.created_at < utcnow() - KEEP).execute()
