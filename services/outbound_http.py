"""The HTTP side of outbound webhooks: checking a URL's host, and POSTing one delivery.

Safe against SSRF (docs/outbound-webhooks.md):
- `https://` only, and every address the host resolves to must be public
  (`store.url_safety`), checked when an endpoint is created or changed and again at every
  delivery. The check lives in the HTTP client's resolver, so the connection goes to the very
  addresses that were checked: a DNS answer that changes between check and connect cannot slip a
  private address in.
- Redirects are not followed (a 3xx is a failed attempt), at most 64 KiB of an answer is read, and
  an attempt gets 10 s in all.
`allow_private` (WINDBACK_ALLOW_PRIVATE_WEBHOOK_URLS) turns the address rules off.

Everything here runs on the IOLoop without blocking it: Tornado's own non-blocking HTTP client,
and name resolution on the loop's executor.
"""
from __future__ import annotations

import asyncio
import socket

from tornado.httpclient import HTTPRequest
from tornado.netutil import DefaultLoopResolver
from tornado.simple_httpclient import SimpleAsyncHTTPClient

from store.outbound_deliveries import Outcome
from store.url_safety import UnsafeAddress, check_addresses, parse_webhook_url

TIMEOUT_SECONDS = 10.0
MAX_ANSWER_BYTES = 64 * 1024
MAX_CONNECTIONS = 64  # requests in flight per process, all endpoints together


class PublicAddressResolver(DefaultLoopResolver):
    """Resolves like the default resolver, then refuses the host unless every address is public."""

    def initialize(self, allow_private: bool = False) -> None:  # type: ignore[override]
        self.allow_private = allow_private

    async def resolve(self, host, port, family=socket.AF_UNSPEC):
        addresses = await asyncio.wait_for(super().resolve(host, port, family), TIMEOUT_SECONDS)
        if not self.allow_private:
            check_addresses(host, [address[1][0] for address in addresses])
        return addresses


async def check_url(url: str, allow_private: bool) -> None:
    """For create and update: the URL's shape, and (unless allowed) that its host resolves to
    public addresses only. Raises `store.errors.Invalid` (400, field `url`)."""
    from store.errors import Invalid

    host, port = parse_webhook_url(url, allow_private)
    if allow_private:
        return
    try:
        await PublicAddressResolver(allow_private=False).resolve(host, port)
    except UnsafeAddress as error:
        raise Invalid(f"The webhook URL is not allowed: {error}",
                      [{"field": "url", "message": "must resolve to public addresses only"}]) from None
    except (OSError, asyncio.TimeoutError):
        raise Invalid(f"The webhook URL's host {host} could not be resolved",
                      [{"field": "url", "message": "host not found"}]) from None


class OutboundClient:
    """One per process (`ctx.service("outbound_http", ...)`), bound to the IOLoop it was made on."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self._client = SimpleAsyncHTTPClient(force_instance=True, max_clients=MAX_CONNECTIONS,
                                             resolver=PublicAddressResolver(allow_private=allow_private),
                                             max_body_size=MAX_ANSWER_BYTES)

    async def post(self, url: str, body: bytes, headers: dict[str, str]) -> Outcome:
        try:
            parse_webhook_url(url, self.allow_private)
        except Exception as error:  # noqa: BLE001 - a URL that was fine once and no longer is
            return Outcome(False, error=f"refused: {error}")
        status_line: list[str] = []

        def on_header(line: str) -> None:
            if not status_line and line.startswith("HTTP/"):
                status_line.append(line)

        request = HTTPRequest(url, method="POST", body=body, headers={**headers, "User-Agent": "Windback-Webhooks/1"},
                              follow_redirects=False, connect_timeout=TIMEOUT_SECONDS,
                              request_timeout=TIMEOUT_SECONDS, header_callback=on_header, decompress_response=False)
        try:
            response = await self._client.fetch(request, raise_error=False)
        except UnsafeAddress as error:
            return Outcome(False, error=f"refused: {error}")
        except Exception as error:  # noqa: BLE001 - every failure to get an answer is an attempt's outcome
            code = _status_of(status_line)
            if code is not None:  # it answered, then sent more than we read
                return Outcome(200 <= code < 300, code, None if 200 <= code < 300 else f"answered {code}",
                               f"(answer longer than {MAX_ANSWER_BYTES // 1024} KiB; not read)")
            return Outcome(False, error=_describe(error))
        text = (response.body or b"")[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")
        if response.code == 599:
            error = response.error
            if isinstance(error, UnsafeAddress):
                return Outcome(False, error=f"refused: {error}")
            return Outcome(False, error=_describe(error))
        ok = 200 <= response.code < 300
        return Outcome(ok, response.code, None if ok else f"answered {response.code}", text or None)


def _status_of(status_line: list[str]) -> int | None:
    try:
        return int(status_line[0].split()[1]) if status_line else None
    except (IndexError, ValueError):
        return None


def _describe(error: BaseException | None) -> str:
    text = str(error) if error is not None else ""
    if "Timeout" in type(error).__name__ or "Timeout" in text:
        return f"no answer within {TIMEOUT_SECONDS:g} s"
    if isinstance(error, ConnectionRefusedError) or "refused" in text.lower():
        return "connection refused"
    return f"{type(error).__name__}: {text}"[:300] if error is not None else "no answer"
