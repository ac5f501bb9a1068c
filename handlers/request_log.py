"""One JSON line per request: the application's `log_function` (keys and tokens masked)."""
from __future__ import annotations

import json
import logging

import tornado.web

from store.keys import mask_key_in_text

log = logging.getLogger("windback.request")


def log_request(handler: tornado.web.RequestHandler) -> None:
    """One JSON line per request (the application's `log_function`)."""
    level = logging.ERROR if handler.get_status() >= 500 else logging.INFO
    if not log.isEnabledFor(level):
        return  # no line to write: skip building it
    request = handler.request
    line = {
        "method": request.method,
        "path": mask_key_in_text(request.uri or request.path),
        "status": handler.get_status(),
        "ms": round(request.request_time() * 1000, 2),
        "request_id": getattr(handler, "request_id", None),
        "ip": request.remote_ip,
    }
    log.log(level, json.dumps(line, separators=(",", ":")))
