"""Google's ID-token signing keys (a JWKS), fetched without blocking the IOLoop and cached.

The key set is fetched with Tornado's AsyncHTTPClient and kept for the `max-age` of its
`Cache-Control` answer (no max-age, or `no-store`/`no-cache`: not kept). A token whose `kid`
is not in a fresh cache triggers one refetch (Google rotates keys); concurrent requests share
one fetch in flight. Used only on the IOLoop thread, so it needs no lock.
"""
from __future__ import annotations

import asyncio
import json
import logging
import re
import time

import jwt
import tornado.httpclient

log = logging.getLogger("windback.google")
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*(\d+)", re.IGNORECASE)


class JwksUnavailable(Exception):
    """The key set could not be fetched or read."""


def cache_seconds(cache_control: str | None) -> int:
    value = (cache_control or "").lower()
    if "no-store" in value or "no-cache" in value:
        return 0
    match = _MAX_AGE.search(value)
    return int(match.group(1)) if match else 0


def parse_jwks(text: str) -> dict[str, jwt.PyJWK]:
    """kid -> RS256 key; keys of another type or algorithm are left out."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise JwksUnavailable(f"the key set is not JSON: {error}") from None
    keys = {}
    for entry in document.get("keys", []) if isinstance(document, dict) else []:
        if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
            continue
        if entry.get("alg", "RS256") != "RS256" or entry.get("use", "sig") != "sig":
            continue
        try:
            keys[entry["kid"]] = jwt.PyJWK(entry, algorithm="RS256")
        except (jwt.PyJWKError, jwt.InvalidKeyError) as error:
            log.warning("ignoring an unreadable key %s in the JWKS: %s", entry.get("kid"), error)
    return keys


class GoogleKeys:
    def __init__(self, url: str, timeout: float = 10.0):
        self.url = url
        self.timeout = timeout
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fresh_until = 0.0
        self._fetching: asyncio.Future | None = None
        self.fetches = 0  # how many times the key set was fetched (for operators and tests)

    async def key_for(self, kid: str) -> jwt.PyJWK | None:
        """The key with this id, or None when the key set (refetched once) does not have it."""
        if time.monotonic() >= self._fresh_until:
            await self._refresh()
            return self._keys.get(kid)
        if kid in self._keys:
            return self._keys[kid]
        await self._refresh()  # an unknown kid: Google may have rotated its keys
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        if self._fetching is None:
            self._fetching = asyncio.ensure_future(self._fetch())
        fetching = self._fetching
        try:
            await asyncio.shield(fetching)
        finally:
            if self._fetching is fetching and fetching.done():
                self._fetching = None

    async def _fetch(self) -> None:
        self.fetches += 1
        client = tornado.httpclient.AsyncHTTPClient()
        try:
            response = await client.fetch(self.url, request_timeout=self.timeout, connect_timeout=self.timeout,
                                          headers={"Accept": "application/json"})
        except (tornado.httpclient.HTTPError, OSError) as error:
            raise JwksUnavailable(f"fetching {self.url} failed: {error}") from None
        keys = parse_jwks(response.body.decode("utf-8", "replace"))
        self._keys = keys
        self._fresh_until = time.monotonic() + cache_seconds(response.headers.get("Cache-Control"))
