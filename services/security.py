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
import time
from concurrent.futures import ThreadPoolExecutor

import bcrypt
import jwt


# Two threads: a burst of logins cannot take every core from other requests (a cost-12 hash takes ~240 ms of a core).
_bcrypt_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="bcrypt")
# A valid hash to check against when the email is unknown, so that both answers take as long.
_DUMMY_HASH: dict[int, bytes] = {}


# --- passwords -----------------------------------------------------------------------------

class PasswordTooLong(ValueError):
    pass


def _hash_password(password: str, rounds: int) -> str:
    data = password.encode("utf-8")
    if len(data) > 72:
        raise PasswordTooLong("password is longer than 72 bytes")
    return bcrypt.hashpw(data, bcrypt.gensalt(rounds)).decode("ascii")


def _check_password(password: str, hashed: str | None, rounds: int) -> bool:
    data = password.encode("utf-8")
    if hashed is None or len(data) > 72:
        # Spend the same time as a real check, then refuse.
        dummy = _DUMMY_HASH.setdefault(rounds, bcrypt.hashpw(b"dummy-password", bcrypt.gensalt(rounds)))
        bcrypt.checkpw(b"not-the-password", dummy)
        return False
    return bcrypt.checkpw(data, hashed.encode("ascii"))


async def hash_password(password: str, rounds: int) -> str:
    return await asyncio.get_running_loop().run_in_executor(_bcrypt_pool, _hash_password, password, rounds)


async def check_password(password: str, hashed: str | None, rounds: int) -> bool:
    return await asyncio.get_running_loop().run_in_executor(_bcrypt_pool, _check_password, password, hashed, rounds)


def hash_password_sync(password: str, rounds: int) -> str:
    """For scripts, which have no IOLoop to protect."""
    return _hash_password(password, rounds)


# --- JWT ---------------------------------------------------------------------------------

def issue_jwt(user_id: str, secret: str, ttl_seconds: int) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "iat": now, "exp": now + ttl_seconds, "jti": secrets.token_hex(12)}
    return jwt.encode(claims, secret, algorithm="HS256")


def read_jwt(token: str, secret: str) -> str | None:
    """The user id of a valid token, else None (expired, forged, `alg: none`, wrong secret)."""
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"],
                            options={"require": ["sub", "exp", "iat", "jti"]})
    except jwt.InvalidTokenError:
        return None
    sub = claims.get("sub")
    return sub if isinstance(sub, str) else None


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
