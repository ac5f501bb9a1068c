"""The dashboard: a single-page web app served at `/app` by the same process as the API.

Not an API endpoint: it answers HTML, JavaScript and CSS, never the JSON envelope. Assets live in
`handlers/static/app/` and are served at `/app/assets/...`; every other path under `/app` answers
`index.html`, so deep links (`/app/projects/acme/events?reason=...`) work after a reload. The app
itself talks only to the documented `/api/v1` endpoints with the user's JWT.

Every answer carries a strict Content-Security-Policy (no inline script, nothing from elsewhere)
and refuses to be framed, so a customer name like `<img src=x onerror=...>` could not run even if
a bug inserted it as HTML.
"""
from __future__ import annotations

import json
import os

import tornado.web

from handlers.https import redirect_to_https
from store.models import CANCEL_REASONS, CHURN_STATUSES, SOURCES, STRATEGIES, TONES
from store.offers import DEFAULT_OFFERS, HEADLINES, PRICE_SUFFIX

STATIC_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "app")

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "frame-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
])
# The cancel-flow preview frame runs the real /widget.js, which may style itself with inline
# styles; its scripts are still only our own files, and only the dashboard may frame it.
PREVIEW_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace(
    "frame-ancestors 'none'", "frame-ancestors 'self'")

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


# How the dashboard names the server's enumerations (short labels for people running the
# project; the widget's customer-facing reason labels are in store/cancel_flow.py).
LABELS = {
    "too_expensive": "Too expensive", "missing_features": "Missing features",
    "switched_competitor": "Switched to a competitor", "not_using": "Not using it",
    "technical_issues": "Technical issues", "poor_support": "Poor support", "temporary": "Temporary",
    "payment_failed": "Payment failed", "other": "Other",
    "discount_offer": "Discount offer", "value_reminder": "Value reminder", "personal_check_in": "Personal check-in",
    "friendly": "Friendly", "professional": "Professional", "urgent": "Urgent",
}


def enumerations() -> dict:
    """What the app's `format.js` reads from the page: the server's own enumerations, so the
    dashboard never keeps a copy that could drift."""
    labelled = lambda codes: [[code, LABELS[code]] for code in codes]  # noqa: E731
    return {"cancel_reasons": labelled(CANCEL_REASONS), "churn_statuses": list(CHURN_STATUSES),
            "sources": list(SOURCES), "strategies": labelled(STRATEGIES), "tones": labelled(TONES),
            "default_offers": DEFAULT_OFFERS, "offer_headlines": HEADLINES, "offer_price_suffix": PRICE_SUFFIX}


def _page(name: str) -> bytes:
    """A page of the app as served, read once: `index.html` carries the enumerations as a JSON
    data block (not a script: the CSP allows no inline script, and needs none for data)."""
    with open(os.path.join(STATIC_ROOT, name), "rb") as handle:
        body = handle.read()
    if name == "index.html":
        data = json.dumps(enumerations(), separators=(",", ":")).replace("<", "\\u003c")
        block = f'<script type="application/json" id="windback-enums">{data}</script>\n</head>'
        body = body.replace(b"</head>", block.encode("utf-8"), 1)
    return body


_PAGES: dict[str, bytes] = {}


def _security_headers(handler: tornado.web.RequestHandler, csp: str = CSP, framing: str = "DENY") -> None:
    handler.set_header("Content-Security-Policy", csp)
    handler.set_header("X-Frame-Options", framing)
    handler.set_header("X-Content-Type-Options", "nosniff")
    handler.set_header("Referrer-Policy", "no-referrer")
    handler.set_header("Cross-Origin-Opener-Policy", "same-origin")


class DashboardAssetHandler(tornado.web.StaticFileHandler):
    """`/app/assets/<file>`: the app's own files. Revalidated on every load (`no-cache` with an
    ETag answering 304), so a new release is picked up without a build step or versioned names."""

    def set_default_headers(self) -> None:
        _security_headers(self)

    def prepare(self) -> None:
        redirect_to_https(self, self.application.settings["ctx"].settings)

    def get_content_type(self) -> str:
        ext = os.path.splitext(self.absolute_path)[1].lower()
        return CONTENT_TYPES.get(ext) or super().get_content_type()

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Cache-Control", "no-cache")

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


class DashboardPageHandler(tornado.web.RequestHandler):
    """Any other path under `/app`: the app's shell, which routes on the client."""

    page = "index.html"
    csp = CSP
    framing = "DENY"

    def set_default_headers(self) -> None:
        _security_headers(self, self.csp, self.framing)
        self.set_header("Cache-Control", "no-cache")

    def prepare(self) -> None:
        # The sign-in form must never be served (and its password posted) over plain HTTP.
        redirect_to_https(self, self.application.settings["ctx"].settings)

    def get(self, path: str = "") -> None:
        body = _PAGES.get(self.page)
        if body is None:
            body = _PAGES[self.page] = _page(self.page)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(body)

    def head(self, path: str = "") -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish()

    def write_error(self, status_code: int, **kwargs) -> None:
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.finish(f"{status_code} {self._reason}\n")


class WidgetPreviewHandler(DashboardPageHandler):
    """`/app/widget-preview`: a page of its own that the settings page frames, running the real
    `/widget.js` against the settings being edited (see `assets/preview.js`)."""

    page = "preview.html"
    csp = PREVIEW_CSP
    framing = "SAMEORIGIN"


default_handlers = [
    (r"/app/assets/(.+)", DashboardAssetHandler, {"path": STATIC_ROOT}),
    (r"/app/widget-preview", WidgetPreviewHandler),
    (r"/app()/?", DashboardPageHandler),
    (r"/app/(.*)", DashboardPageHandler),
]
