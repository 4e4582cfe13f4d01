"""Domain errors: what went wrong, in the core's words.

Services raise these; each dialect adapter renders them in its own envelope with
the status from `STATUS` (adapters may override a status where their spec differs,
e.g. the platform answers validation errors with 422 as FastAPI does).
"""
from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(DomainError):
    code = "bad_request"


class ValidationFailed(BadRequest):
    """A field is missing or malformed; `field` names it (dotted for nested fields)."""
    code = "validation_error"

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)
        self.field = field


class MalformedBody(BadRequest):
    code = "malformed_json"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class MethodNotAllowed(DomainError):
    code = "method_not_allowed"


class Conflict(DomainError):
    code = "conflict"


class IllegalTransition(Conflict):
    code = "illegal_transition"


class PaymentRequired(DomainError):
    code = "insufficient_credits"


class PayloadTooLarge(DomainError):
    code = "payload_too_large"


class RateLimited(DomainError):
    code = "rate_limited"


class TimedOut(DomainError):
    code = "timeout"


class Unavailable(DomainError):
    code = "unavailable"


STATUS = {
    BadRequest: 400,
    Unauthorized: 401,
    PaymentRequired: 402,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    PayloadTooLarge: 413,
    RateLimited: 429,
    Unavailable: 503,
    TimedOut: 504,
}


def status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def require(value, field: str, message: str | None = None):
    """The value of a required field, or ValidationFailed naming it."""
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(field, message or f"'{field}' is required")
    return value
