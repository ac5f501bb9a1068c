"""`GET /widget.js`: the cancel-flow widget a customer's page embeds (docs/widget.md).

The script is read once at import and served from memory. Its version is a hash of its content:
`/widget.js?v=<version>` is cached for a year (`immutable`); the bare `/widget.js` is cached for
five minutes and revalidated with its `ETag` (the version), so an embed without `?v=` still picks
up a new release within minutes.
"""
from __future__ import annotations

import hashlib
import os

from handlers.access import PUBLIC
from handlers.base import BaseHandler
from handlers.responses import Returns

_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static", "widget.js")
with open(_PATH, "rb") as _file:
    WIDGET_JS = _file.read()
WIDGET_VERSION = hashlib.sha256(WIDGET_JS).hexdigest()[:16]
WIDGET_ETAG = f'"{WIDGET_VERSION}"'


class WidgetHandler(BaseHandler):
    """The cancel-flow widget script (`?v=<version>` is cached for a year)."""

    rules = {"GET": PUBLIC}
    response_schemas = {"GET": Returns(media_type="application/javascript", not_modified=True, headers=("ETag",))}

    async def get(self) -> None:
        self.set_header("Content-Type", "application/javascript; charset=utf-8")
        self.set_header("Access-Control-Allow-Origin", "*")
        if self.get_query_argument("v", None) == WIDGET_VERSION:
            self.set_header("Cache-Control", "public, max-age=31536000, immutable")
        else:
            self.set_header("Cache-Control", "public, max-age=300")
        if not self.not_modified(WIDGET_ETAG):
            self.finish(WIDGET_JS)


default_handlers = [(r"/widget\.js", WidgetHandler)]
