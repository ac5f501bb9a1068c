"""`GET /widget.js`: the cancel-flow widget a customer's page embeds (docs/widget.md).

The script is read once at import and served from memory. Its version is a hash of its content:
`/widget.js?v=<version>` is cached for a year (`immutable`); the bare `/widget.js` is cached for
five minutes and revalidated with its `ETag` (the version), so an embed without `?v=` still picks
up a new release within minutes.
"""
from __future__ import annotations

import hashlib
import os

from handlers.base import PUBLIC, BaseHandler

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "widget.js")
with open(_PATH, "rb") as _file:
    WIDGET_JS = _file.read()
WIDGET_VERSION = hashlib.sha256(WIDGET_JS).hexdigest()[:16]
WIDGET_ETAG = f'"{WIDGET_VERSION}"'


class WidgetHandler(BaseHandler):
    rules = {"GET": PUBLIC}

    async def get(self) -> None:
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Access-Control-Allow-Origin", "*")
        self.set_header("ETag", WIDGET_ETAG)
        if self.get_query_argument("v", None) == WIDGET_VERSION:
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        else:
            self.set_header("Cache-Control", "public, max-age=300")
        tags = [tag.strip().removeprefix("W/") for tag in self.request.headers.get("If-None-Match", "").split(",")]
        if WIDGET_ETAG in tags or "*" in tags:
            self.set_status(304)
            self.clear_header("Content-Type")
            self.finish()
            return
        self.finish(WIDGET_JS)


default_handlers = [(r"/widget\.js", WidgetHandler)]
