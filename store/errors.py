"""Domain errors: what any layer raises when a request breaks a rule.

They know nothing of HTTP. `BaseHandler.write_error` turns each kind into the error envelope
with its status (the table is in `handlers/errors.py`): `Invalid` 400, `Unauthorized` 401,
`Forbidden` 403, `NotFound` 404, `Conflict` 409, `UpstreamFailed` 502, `Unavailable` 503,
`TimedOut` 504. An actor command that raises one answers that error and the actor lives on.
"""
from __future__ import annotations


class DomainError(Exception):
    code = "VALIDATION_ERROR"

    def __init__(self, message: str, details: list[dict] | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or []
        if code is not None:
            self.code = code
        self.headers = headers or {}

    def envelope(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class Invalid(DomainError):
    """Bad input; `details` names each field: [{"field", "message"}]."""
    code = "VALIDATION_ERROR"


class Unauthorized(DomainError):
    code = "UNAUTHORIZED"


class Forbidden(DomainError):
    code = "FORBIDDEN"


class NotFound(DomainError):
    code = "NOT_FOUND"


class Conflict(DomainError):
    """The resource's state does not allow this (code CONFLICT, or e.g. SUPPRESSED)."""
    code = "CONFLICT"


class UpstreamFailed(DomainError):
    """A remote system (mail server, billing provider) refused or did not answer."""
    code = "DELIVERY_FAILED"


class Unavailable(DomainError):
    code = "UNAVAILABLE"


class TimedOut(DomainError):
    code = "TIMEOUT"


def not_found(what: str = "Resource") -> NotFound:
    return NotFound(f"{what} not found")


def conflict(message: str, code: str = "CONFLICT") -> Conflict:
    return Conflict(message, code=code)


def forbidden(message: str = "You do not have permission to do this") -> Forbidden:
    return Forbidden(message)


def unauthorized(message: str = "Missing or invalid authentication") -> Unauthorized:
    return Unauthorized(message)


def bad_request(message: str, field: str | None = None) -> Invalid:
    return Invalid(message, [{"field": field, "message": message}] if field else [])
