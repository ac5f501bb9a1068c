"""HTTP errors: `ApiError` for answers only the HTTP layer gives (405, 413, 429), and the status
of each domain error kind (`store/errors.py`). `BaseHandler.write_error` renders both."""
from __future__ import annotations

from store.errors import (Conflict, DomainError, Forbidden, Invalid, NotFound, TimedOut, Unauthorized, Unavailable,
                          UpstreamFailed, bad_request, conflict, forbidden, not_found, unauthorized)

__all__ = ["ApiError", "DomainError", "STATUS_CODES", "bad_request", "conflict", "forbidden", "http_status",
           "not_found", "unauthorized"]


class ApiError(DomainError):
    """An error with an explicit HTTP status."""

    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message, details, code, headers)
        self.status = status


_STATUS_BY_KIND = [
    (Invalid, 400), (Unauthorized, 401), (Forbidden, 403), (NotFound, 404), (Conflict, 409),
    (UpstreamFailed, 502), (Unavailable, 503), (TimedOut, 504),
]


def http_status(error: DomainError) -> int:
    if isinstance(error, ApiError):
        return error.status
    for kind, status in _STATUS_BY_KIND:
        if isinstance(error, kind):
            return status
    return 400


# Tornado's own HTTP errors (unknown route, method, bodies) mapped to the envelope's codes.
STATUS_CODES = {
    400: "VALIDATION_ERROR",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    429: "RATE_LIMITED",
    502: "DELIVERY_FAILED",
    503: "UNAVAILABLE",
    504: "TIMEOUT",
}
