"""Billing credentials at rest: sealed with Fernet under a key that is not in the database.

The key is derived from `WINDBACK_SECRET` when it comes from the environment; otherwise it is a
key file (`WINDBACK_BILLING_KEY_FILE`, by default beside the data) created `0600` on first use.
A database copied without that key holds no usable billing credential.
"""
from __future__ import annotations

import base64
import os
import time

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from config import Settings
from store import billing as store
from store.db import run_db
from store.errors import Invalid, UpstreamFailed
from store.keys import is_masked
from store.serialize import dumps, iso, loads_object
from store.models import utcnow
from store.validation import Choice, Integer, Schema, String

PROVIDERS = ("stripe", "razorpay")
CREDENTIAL_FIELDS = {"stripe": ("stripe_api_key",), "razorpay": ("razorpay_key_id", "razorpay_key_secret")}


def _check(billing: dict) -> list[dict]:
    given = [name for fields in CREDENTIAL_FIELDS.values() for name in fields if billing.get(name)]
    provider = billing.get("provider")
    key = billing.get("stripe_api_key")
    if key and not _looks_masked(key) and not key.startswith(("sk_", "rk_")):
        return [{"field": "stripe_api_key", "message": "must be a Stripe secret (sk_...) or restricted (rk_...) key"}]
    if given and provider is None:
        return [{"field": "provider", "message": "is required with billing credentials (stripe or razorpay)"}]
    if provider is None:
        return []
    wrong = [name for name in given if name not in CREDENTIAL_FIELDS[provider]]
    if wrong:
        return [{"field": name, "message": f"does not belong to the {provider} provider"} for name in wrong]
    return [{"field": name, "message": f"is required to connect {provider}"}
            for name in CREDENTIAL_FIELDS[provider] if not billing.get(name)]


BILLING_SETTINGS = Schema({
    "provider": Choice(PROVIDERS),
    "stripe_api_key": String(min_length=8, max_length=300),
    "razorpay_key_id": String(min_length=4, max_length=100),
    "razorpay_key_secret": String(min_length=4, max_length=300),
    "offer_cooldown_days": Integer(minimum=0, maximum=3650),
}, check=_check)


def display_mask(value: str) -> str:
    """`sk_live_abc...4f2a` -> `sk_...4f2a`: the kind of key and its last four characters."""
    prefix = value.split("_", 1)[0] + "_" if "_" in value[:6] else ""
    return f"{prefix}...{value[-4:]}" if len(value) >= 12 else f"{prefix}..."


def _looks_masked(value) -> bool:
    return isinstance(value, str) and ("..." in value or is_masked(value))


class CredentialBox:
    """Seals and opens a project's billing credentials."""

    def __init__(self, settings: Settings):
        self._settings = settings
        self._fernet: Fernet | None = None

    @property
    def fernet(self) -> Fernet:
        if self._fernet is None:  # on first use: a server without billing never makes a key file
            if self._settings.secret:
                key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                           info=b"windback billing credentials").derive(self._settings.secret.encode("utf-8"))
                self._fernet = Fernet(base64.urlsafe_b64encode(key))
            else:
                self._fernet = Fernet(read_or_create_key_file(self._settings.billing_key_file))
        return self._fernet

    def seal(self, credentials: dict) -> str:
        return self.fernet.encrypt(dumps(credentials).encode("utf-8")).decode("ascii")

    def open(self, sealed: str) -> dict:
        try:
            return loads_object(self.fernet.decrypt(sealed.encode("ascii")).decode("utf-8"))
        except (InvalidToken, ValueError):
            raise UpstreamFailed("The billing credentials cannot be read with this server's key (was "
                                 "WINDBACK_SECRET or the key file changed?); connect billing again",
                                 code="BILLING_FAILED") from None

    def stored_form(self, patch: dict, stored: dict | None) -> dict | None:
        """What `settings.billing` becomes for a PATCH (merged key by key over `stored`)."""
        stored = stored if isinstance(stored, dict) else {}
        provider = patch.get("provider")
        fresh = {name: patch[name] for name in CREDENTIAL_FIELDS.get(provider, ())
                 if not _looks_masked(patch.get(name))}
        out = {name: patch[name] for name in ("offer_cooldown_days",) if name in patch}
        if provider and fresh:
            if len(fresh) != len(CREDENTIAL_FIELDS[provider]):
                raise Invalid("Send every credential of the provider again to change one",
                              [{"field": f"settings.billing.{name}", "message": "is required with the others"}
                               for name in CREDENTIAL_FIELDS[provider] if name not in fresh])
            out.update(provider=provider, credentials=self.seal(fresh), connected_at=iso(utcnow()),
                       display={name: display_mask(value) for name, value in fresh.items()})
        elif provider and provider != stored.get("provider"):
            raise Invalid(f"Connecting {provider} needs its keys",
                          [{"field": f"settings.billing.{name}", "message": "is required"}
                           for name in CREDENTIAL_FIELDS[provider]])
        return out


def read_or_create_key_file(path: str) -> bytes:
    """The Fernet key in `path`, made (mode 0600) by whichever process gets there first."""
    for _ in range(50):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            with open(path, "rb") as handle:
                key = handle.read().strip()
            if key:
                return key
            time.sleep(0.02)  # another process made it and is writing the key now
            continue
        with os.fdopen(fd, "wb") as handle:
            key = Fernet.generate_key()
            handle.write(key + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        return key
    raise RuntimeError(f"the billing key file {path} stays empty")


def credential_box(ctx) -> CredentialBox:
    return ctx.service("billing_credentials", lambda: CredentialBox(ctx.settings))


async def identity_secret(ctx, project_id: str, rotate: bool = False) -> str:
    """The project's identity secret (`isec_...`), made on first use or replaced by `rotate`."""
    box = credential_box(ctx)
    sealed = None if rotate else await run_db(store.sealed_identity, project_id)
    if sealed is None:
        sealed = await run_db(store.save_identity, project_id, box.seal({"secret": store.new_identity_secret()}),
                              rotate)
    return box.open(sealed)["secret"]
