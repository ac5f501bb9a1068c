"""The API's error type. Raised anywhere below a handler; `BaseHandler.write_error` renders it."""
from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def envelope(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(what: str = "Resource") -> ApiError:
    return ApiError(404, "NOT_FOUND", f"{what} not found")


def conflict(message: str, code: str = "CONFLICT") -> ApiError:
    return ApiError(409, code, message)


def forbidden(message: str = "You do not have permission to do this") -> ApiError:
    return ApiError(403, "FORBIDDEN", message)


def unauthorized(message: str = "Missing or invalid authentication") -> ApiError:
    return ApiError(401, "UNAUTHORIZED", message)


def bad_request(message: str, field: str | None = None) -> ApiError:
    details = [{"field": field, "message": message}] if field else []
    return ApiError(400, "VALIDATION_ERROR", message, details)


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
