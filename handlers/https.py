"""HTTPS when `WINDBACK_REQUIRE_HTTPS=true` (docs/deploy.md, "HTTPS"): what counts as HTTPS, the
redirect of dashboard pages asked for over plain HTTP, and the `Strict-Transport-Security` header
that every HTTPS answer carries, whichever handler (API, dashboard, static file, error) made it.
"""
from __future__ import annotations

import urllib.parse

import tornado.httputil
import tornado.web

HSTS = "max-age=31536000"


def is_https(request: tornado.httputil.HTTPServerRequest, trusted_proxies) -> bool:
    """TLS on this socket, or `X-Forwarded-Proto: https` from a trusted proxy."""
    if request.protocol == "https":
        return True
    if request.remote_ip not in trusted_proxies:
        return False  # X-Forwarded-Proto from anyone else is not believed
    # A chain of proxies may list several; the first is what the client spoke.
    return request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower() == "https"


def https_url(request: tornado.httputil.HTTPServerRequest, public_url: str) -> str:
    """The same page over HTTPS: on the public URL's host when that is an https:// URL (a Host
    header is the client's to choose), else on the host the request named."""
    public = urllib.parse.urlsplit(public_url)
    host = public.netloc if public.scheme == "https" else request.host
    return f"https://{host}{request.uri}"


class StrictTransportSecurity(tornado.web.OutputTransform):
    """Adds HSTS to every answer given over HTTPS while HTTPS is required. An application
    transform, so no handler can forget it (errors and static files included)."""

    def __init__(self, request: tornado.httputil.HTTPServerRequest, settings=None):
        self.secure = settings is not None and settings.require_https and is_https(request, settings.trusted_proxies)

    def transform_first_chunk(self, status_code, headers, chunk, finishing):
        if self.secure:
            headers["Strict-Transport-Security"] = HSTS
        return status_code, headers, chunk


def redirect_to_https(handler: tornado.web.RequestHandler, settings) -> bool:
    """For dashboard pages: over plain HTTP while HTTPS is required, answer a permanent redirect
    (301 for GET/HEAD, 308 otherwise so a method and body are kept) and return True."""
    if not settings.require_https or is_https(handler.request, settings.trusted_proxies):
        return False
    handler.redirect(https_url(handler.request, settings.public_url),
                     status=301 if handler.request.method in ("GET", "HEAD") else 308)
    return True
