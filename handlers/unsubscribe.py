"""`/api/v1/unsubscribe?token=...`: no authentication; the signed token names the project and the
address. Both methods put the address on the project's suppression list (repeating is harmless).

- `POST` is the RFC 8058 one-click endpoint mail clients call (`List-Unsubscribe-Post`); it
  answers the JSON envelope `{"data": {"unsubscribed": true}}`.
- `GET` is the visible link in the email: a small HTML page for a person, or the same JSON when
  the client sends `Accept: application/json`.
A missing, forged or malformed token: 400 `VALIDATION_ERROR`.
"""
from __future__ import annotations

import html

from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.errors import bad_request
from handlers.responses import BOOLEAN, STRING, Returns, obj
from store.validation import Schema, String
from services.recovery import read_unsubscribe_token
from store import suppressions
from store.db import run_db

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Unsubscribed</title></head>
<body style="font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; max-width: 32rem;
margin: 4rem auto; padding: 0 1rem; color: #1f2328;">
<h1 style="font-size: 1.4rem;">You are unsubscribed</h1>
<p>{email} will not receive these emails any more.</p>
</body></html>
"""


TOKEN_QUERY = Schema({"token": String(required=True, min_length=1, max_length=2000,
                                      description="The signed token from the email's link")})
UNSUBSCRIBED_OUT = obj({"unsubscribed": BOOLEAN, "email": STRING})


class UnsubscribeHandler(BaseHandler):
    """Put the email's address on the project's suppression list."""

    rules = {"GET": PUBLIC, "POST": PUBLIC}
    # Documentation of the link's query; the handler reads the token itself (POST may also
    # carry it form-encoded, as RFC 8058 clients do).
    query_schemas = {"GET": TOKEN_QUERY, "POST": TOKEN_QUERY}
    response_schemas = {"GET": Returns(UNSUBSCRIBED_OUT, also_media=("text/html",)),
                        "POST": Returns(UNSUBSCRIBED_OUT)}

    async def _unsubscribe(self) -> str:
        token = self.get_query_argument("token", "") or self.get_body_argument("token", "")
        found = read_unsubscribe_token(self.ctx.secret, token) if token else None
        if found is None:
            raise bad_request("The unsubscribe link is invalid or incomplete", field="token")
        project_id, address = found
        if not await run_db(suppressions.suppress, project_id, address):
            raise bad_request("The unsubscribe link is invalid or incomplete", field="token")
        # Their failed-payment emails stop too: the recoveries become `stopped`.
        await self.ctx.actors.project(project_id).stop_payment_recoveries_of(address)
        return address

    async def get(self):
        address = await self._unsubscribe()
        if "application/json" in self.request.headers.get("Accept", ""):
            await self.reply({"unsubscribed": True, "email": address})
            return
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(PAGE.format(email=html.escape(address)))

    async def post(self):
        address = await self._unsubscribe()
        await self.reply({"unsubscribed": True, "email": address})


default_handlers = [(r"/api/v1/unsubscribe", UnsubscribeHandler)]
