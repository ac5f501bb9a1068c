"""Secrets: API keys, JWTs, passwords, one-time tokens and signed links.

Secret keys and one-time tokens are stored only as SHA-256 hashes and looked up by hash (the
lookup is on an indexed hash, so no secret is ever compared as plain text); webhook secrets are
shown masked. bcrypt runs in a small bounded pool, never on the IOLoop.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import jwt


# Two threads: a burst of logins cannot take every core from other requests (a cost-12 hash takes ~240 ms of a core).
_bcrypt_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bcrypt")
# A valid hash to check against when the email is unknown, so that both answers take as long:
# one per cost, made once (`prepare_dummy_hash` at start), never again per login.
_DUMMY_HASH: dict[int, bytes] = {}
_dummy_lock = threading.Lock()


# --- passwords -----------------------------------------------------------------------------

class PasswordTooLong(ValueError):
    pass


def _hash_password(password: str, rounds: int) -> str:
    data = password.encode("utf-8")
    if len(data) > 72:
        raise PasswordTooLong("password is longer than 72 bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds)).decode("ascii")


def prepare_dummy_hash(rounds: int) -> bytes:
    """The hash an unknown email is checked against. Only its first use at a cost pays for a
    hashpw; every later call returns it, so an unknown email costs one checkpw like a known one."""
    dummy = _DUMMY_HASH.get(rounds)
    if dummy is None:
        with _dummy_lock:
            dummy = _DUMMY_HASH.get(rounds)
            if dummy is None:
                dummy = _DUMMY_HASH[rounds] = bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(rounds))
    return dummy


def _check_password(password: str, hashed: str | None, rounds: int) -> bool:
    data = password.encode("utf-8")
    if hashed is None or len(data) > 72:
        # Spend the same time as a real check (one checkpw at the same cost), then refuse.
        bcrypt.checkpw(b"not-the-password", prepare_dummy_hash(rounds))
        return False
    return bcrypt.checkpw(data, hashed.encode("ascii"))


async def hash_password(password: str, rounds: int) -> str:
    return await asyncio.get_running_loop().run_in_executor(_bcrypt_pool, _hash_password, password, rounds)


def warm_up(rounds: int) -> None:
    """At start: make the dummy hash in the bcrypt pool, before the first login needs it."""
    _bcrypt_pool.submit(prepare_dummy_hash, rounds)


async def check_password(password: str, hashed: str | None, rounds: int) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_bcrypt_pool, _check_password, password, hashed, rounds)


def hash_password_sync(password: str, rounds: int) -> str:
    """For scripts, which have no IOLoop to protect."""
    return _hash_password(password, rounds)


# --- JWT ---------------------------------------------------------------------------------

def issue_jwt(user_id: str, secret: str, ttl_seconds: int, generation: int = 0) -> str:
    """`gen` is the user's token generation: a password reset bumps it, ending older tokens."""
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + ttl_seconds, "jti": secrets.token_hex(12), "gen": generation}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_jwt(token: str, secret: str) -> tuple[str, int] | None:
    """(user id, token generation) of a valid token, else None (expired, forged, `alg: none`,
    wrong secret). A token from before generations existed counts as generation 0."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp", "iat", "jti"]})
    except jwt.InvalidTokenError:
        return None
    sub, generation = claims.get("sub"), claims.get("gen", 0)
    if not isinstance(sub, str) or not isinstance(generation, int) or isinstance(generation, bool):
        return None
    return sub, generation


# --- signed links (e.g. unsubscribe) -----------------------------------------------------

def sign_payload(payload: dict, secret: str, purpose: str) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    mac = hmac.new(f"{purpose}:{secret}".encode(), body.encode(), hashlib.sha256).digest()
    return body + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def verify_signed_payload(token: str, secret: str, purpose: str) -> dict | None:
    try:
        body, mac = token.split(".", 1)
        expected = hmac.new(f"{purpose}:{secret}".encode(), body.encode(), hashlib.sha256).digest()
        given = base64.urlsafe_b64decode(mac + "=" * (-len(mac) % 4))
        if not hmac.compare_digest(expected, given):
            return None
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except (ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None
