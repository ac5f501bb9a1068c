"""`/offers/<token>`: the one-click accept link of a discount email (docs/offers.md).

HTML pages for a person, under the dashboard's Content-Security-Policy. `GET` only shows the
offer and an Accept button and changes nothing (mail scanners open links); the button posts to
`/offers/<token>/accept`. A used or expired link answers 410, an unknown one 404, each with a page
saying so.
"""
from __future__ import annotations

import html

from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.dashboard import _security_headers
from handlers.responses import STRING, Returns
from services.billing.email_offers import Outcome, accept, show

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{title}</title><link rel="stylesheet" href="/app/assets/offer.css"></head>
<body><main><h1>{title}</h1>{body}</main></body></html>
"""
# A malformed link never reaches these handlers: the router's 404 answers the JSON envelope.
ENVELOPE = ("application/json",)


class OfferPageBase(BaseHandler):
    def set_default_headers(self) -> None:
        super().set_default_headers()
        _security_headers(self)

    def page(self, outcome: Outcome, body: str | None = None) -> None:
        self.set_status(outcome.status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        message = f"<p>{html.escape(outcome.message)}</p>" if outcome.message else ""
        self.finish(PAGE.format(title=html.escape(outcome.title), body=body or message))


class OfferPageHandler(OfferPageBase):
    """The offer behind an email's link, with an Accept button. Changes nothing."""

    rules = {"GET": PUBLIC}
    response_schemas = {"GET": Returns(STRING, media_type="text/html", also=(404, 410), also_media=ENVELOPE,
                                       description="The offer page; 404 unknown link, 410 used or expired")}

    async def get(self, token):
        outcome, link = await show(token)
        if link is None:
            self.page(outcome)
            return
        self.page(outcome, f'<p class="offer">{html.escape(outcome.message)}</p>'
                           f'<form method="post" action="/offers/{html.escape(token)}/accept">'
                           '<button type="submit">Accept the offer</button></form>'
                           '<p class="muted">Nothing changes until you press the button.</p>')


class OfferAcceptHandler(OfferPageBase):
    """Apply the offer: a running subscription gets the discount (303 to Stripe Checkout for one
    that ended)."""

    rules = {"POST": PUBLIC}
    response_schemas = {"POST": Returns(STRING, media_type="text/html", also=(303, 404, 409, 410, 502),
                                        also_media=ENVELOPE,
                                        description="200 applied; 303 to Stripe Checkout; 404/410/409/502: "
                                                    "a page saying why not")}

    async def post(self, token):
        outcome = await accept(self.ctx, token)
        if outcome.redirect:
            self.redirect(outcome.redirect, status=303)
            return
        self.page(outcome)


class WelcomeHandler(OfferPageBase):
    """Where Stripe Checkout sends the customer back."""

    rules = {"GET": PUBLIC}
    response_schemas = {"GET": Returns(STRING, media_type="text/html")}

    async def get(self):
        self.page(Outcome(200, "Welcome back", "Thank you for coming back. Your subscription starts as soon as "
                                               "the payment is confirmed."))


default_handlers = [
    (r"/offers/welcome", WelcomeHandler),
    (r"/offers/(?P<token>[A-Za-z0-9_\-]{16,200})", OfferPageHandler),
    (r"/offers/(?P<token>[A-Za-z0-9_\-]{16,200})/accept", OfferAcceptHandler),
]
