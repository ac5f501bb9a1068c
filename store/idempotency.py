"""`Idempotency-Key` records: scoped to the credential, kept 24 h, 2xx answers only.

An answer that carried a secret (a new project's or a rotation's secret key) is never kept: the
record says only that it was `withheld`, and a replay is refused (docs/api.md "Idempotency").
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import peewee

from store.db import transaction
from store.models import IdempotencyKey, utcnow

KEEP = dt.timedelta(hours=24)
# A claim still in flight after this long belongs to a process that died (kill -9, power loss)
# mid-request; a retry may take it over rather than be refused for 24 h. Longer than any request.
IN_FLIGHT_LEASE = dt.timedelta(minutes=2)


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
    if row.state == "withheld":
        return Outcome("conflict", message="This request already succeeded and its answer carried a secret, "
                                           "which is shown only once; it is not repeated")
    if row.state != "done":
        if row.created_at < now - IN_FLIGHT_LEASE and _take_over(row, now):
            return Outcome("claimed")
        return Outcome("conflict", message="A request with this Idempotency-Key is still in progress")
    return Outcome("replay", row.response_status, row.response_body)


def _take_over(row: IdempotencyKey, now: dt.datetime) -> bool:
    """Claim an abandoned in-flight key; a conditional UPDATE so only one retry wins."""
    with transaction():
        return (IdempotencyKey.update(created_at=now)
                .where((IdempotencyKey.scope == row.scope) & (IdempotencyKey.key == row.key)
                       & (IdempotencyKey.state == "in_flight") & (IdempotencyKey.created_at == row.created_at))
                .execute()) == 1


def complete(scope: str, key: str, status: int, body: str | None) -> None:
    """Keep a 2xx answer for replays; `body` None: it carried a secret, so keep nothing of it."""
    with transaction():
        if 200 <= status < 300:
            kept = {"state": "done", "response_status": status, "response_body": body} if body is not None else \
                {"state": "withheld", "response_status": None, "response_body": None}
            IdempotencyKey.update(**kept).where((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key)).execute()
        else:
            release(scope, key)


def release(scope: str, key: str) -> None:
    with transaction():
        IdempotencyKey.delete().where((IdempotencyKey.scope == scope) & (IdempotencyKey.key == key)
                                      & (IdempotencyKey.state == "in_flight")).execute()


def purge_expired() -> int:
    with transaction():
        return IdempotencyKey.delete().where(IdempotencyKey.created_at < utcnow() - KEEP).execute()
