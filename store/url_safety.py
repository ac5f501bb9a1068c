"""Which outbound webhook URLs and addresses the server may call (pure rules, no I/O).

A merchant's URL must not turn the server into a way into the network it runs in (SSRF): the
scheme is `https`, and every address its host resolves to is a public one. The resolving itself
happens where the call is made (`services/outbound_http.py`), at create and again at every
delivery, and the connection goes to the address that was checked. `allow_private` (the setting
WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS, for tests and local development) lifts both rules.
"""
from __future__ import annotations

import ipaddress
import urllib.parse

from store.errors import Invalid

MAX_URL_LENGTH = 2048


class UnsafeAddress(Exception):
    """The URL's host resolves to an address the server must not call."""


def parse_webhook_url(url: str, allow_private: bool) -> tuple[str, int]:
    """(host, port) of an acceptable URL; raises `Invalid` (field `url`) otherwise. A host that is
    an IP literal is checked here; a name is checked once resolved."""
    parts = urllib.parse.urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise Invalid("The webhook URL must be an https:// URL", [{"field": "url", "message": "must start with https://"}])
    if parts.username or parts.password:
        raise Invalid("The webhook URL must not carry a user or password",
                      [{"field": "url", "message": "must not contain credentials"}])
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid("The webhook URL has an invalid port", [{"field": "url", "message": "invalid port"}]) from None
    host = parts.hostname
    if not allow_private:
        literal = _ip(host)
        if literal is not None and not is_public(literal):
            raise Invalid("The webhook URL points at a private or reserved address",
                          [{"field": "url", "message": "must be a public address"}])
        if literal is None and (host == "localhost" or host.endswith((".localhost", ".local", ".internal"))):
            raise Invalid("The webhook URL points at a local host name",
                          [{"field": "url", "message": "must be a public address"}])
    return host, port


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_public(address) -> bool:
    """True for an address on the public internet: not loopback, private, link-local (cloud
    metadata at 169.254.169.254), shared (100.64/10), multicast, reserved or unspecified. An IPv6
    form of an IPv4 address (`::ffff:127.0.0.1`, 6to4, NAT64) is judged by the IPv4 inside."""
    ip = address if isinstance(address, (ipaddress.IPv4Address, ipaddress.IPv6Address)) else _ip(str(address))
    if ip is None:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is None and ip in ipaddress.ip_network("64:ff9b::/96"):
            inner = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if inner is not None:
            return is_public(inner)
    return ip.is_global and not ip.is_multicast


def check_addresses(host: str, addresses: list[str]) -> None:
    """Raise `UnsafeAddress` unless every address `host` resolved to is public."""
    if not addresses:
        raise UnsafeAddress(f"{host} did not resolve to any address")
    refused = sorted({address for address in addresses if not is_public(address)})
    if refused:
        raise UnsafeAddress(f"{host} resolves to a private or reserved address ({', '.join(refused)})")
