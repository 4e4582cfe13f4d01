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


class FieldError:
    """One bad input: where (`("body", "result", "problem")`, `("query", "limit")`), what
    is wrong in words, and a machine type in FastAPI's vocabulary (`missing`, `string_type`,
    `string_too_long`, `json_invalid`, `value_error`, ...). (A plain class: a dataclass
    costs a third of a millisecond at import, which cold starts pay.)"""
    __slots__ = ("loc", "message", "type")

    def __init__(self, loc: tuple, message: str, type: str = "value_error"):
        self.loc, self.message, self.type = loc, message, type

    def __repr__(self) -> str:
        return f"FieldError({self.loc!r}, {self.message!r}, {self.type!r})"

    @property
    def field(self) -> str:
        """The dotted field name, without the location (`result.problem`)."""
        return ".".join(str(part) for part in self.loc[1:]) or str(self.loc[0])


class ValidationFailed(BadRequest):
    """A field is missing or malformed; `field` names it (dotted for nested fields).

    `errors` lists every bad input as FieldErrors; services raising one error by name get
    a single `body` entry."""
    code = "validation_error"

    def __init__(self, field: str, message: str, *, errors: list[FieldError] | None = None):
        super().__init__(message, field=field)
        self.field = field
        self.errors = errors or [FieldError(("body", *field.split(".")), message)]


class PasswordRejected(ValidationFailed):
    """A new password breaks the password policy: 422 in every dialect, one FieldError per
    failed rule (its `type` names the rule: `password_policy.min_length`, ...)."""
    code = "password_policy"


class MalformedBody(BadRequest):
    """The body cannot be read at all (not JSON, not an object, not UTF-8); `position` is
    the character offset of a JSON syntax error, when there is one. Its field error says
    what FastAPI says (`JSON decode error`, type `json_invalid`)."""
    code = "malformed_json"

    def __init__(self, message: str, *, position: int | None = None, type: str = "json_invalid"):
        super().__init__(message)
        self.errors = [FieldError(("body",) if position is None else ("body", position),
                                  "JSON decode error" if type == "json_invalid" else message,
                                  type)]


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
    """Too many attempts: `retry_after` seconds go out as the `Retry-After` header."""
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, **details):
        super().__init__(message, **details)
        self.headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}


class TimedOut(DomainError):
    code = "timeout"


class Unavailable(DomainError):
    code = "unavailable"


STATUS = {
    PasswordRejected: 422,
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
