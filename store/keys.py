"""Keys and secrets as plain values: generating, hashing, masking and comparing them.

Secret keys and one-time tokens are stored only as SHA-256 hashes and looked up by hash, so no
secret is compared as plain text; webhook secrets are shown masked. Pure functions, usable from
every layer.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

SECRET_KEY_PREFIX = "sk_live_"
PUBLIC_KEY_PREFIX = "pub_live_"


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def new_secret_key() -> str:
    return SECRET_KEY_PREFIX + secrets.token_urlsafe(32)


def new_public_key() -> str:
    return PUBLIC_KEY_PREFIX + secrets.token_urlsafe(18)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def mask(secret: str | None) -> str | None:
    """`whsec_abcdef123456` -> `whsec_****3456`; short values lose everything but the prefix."""
    if not secret:
        return secret
    prefix = secret.split("_", 1)[0] + "_" if "_" in secret[:8] else ""
    tail = secret[-4:] if len(secret) >= 12 else ""
    return f"{prefix}****{tail}"


def is_masked(value: str) -> bool:
    return "****" in value


def mask_key_in_text(text: str) -> str:
    """Hide keys and tokens in a path or query string before it is logged."""
    text = re.sub(r"(sk_live_|pub_live_)[A-Za-z0-9_\-]{4,}", lambda m: m.group(1) + "****", text)
    text = re.sub(r"(/invitations/)[^/?]+", r"\1****", text)
    return re.sub(r"(token=)[^&]+", r"\1****", text)
