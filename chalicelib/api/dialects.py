"""Each dialect's error envelope, from the one shared mapping of domain errors to statuses.

This is the one place that decides how an error looks on each dialect's wire.
"""
from __future__ import annotations

from chalicelib.errors import DomainError, MalformedBody, ValidationFailed, status_of


class Dialect:
    name = "switchboard"

    def status(self, error: DomainError) -> int:
        return status_of(error)

    def body(self, error: DomainError, status: int) -> dict:
        return {"error": error.code, "message": error.message}


class FastApiDialect(Dialect):
    """The platform and GemmaNet are FastAPI services: `{"detail": ...}`, and 422 for input
    that is missing, mistyped or not JSON at all.

    A 422 carries both envelopes its clients read: the platform's own
    (`error_code: VAL_001`, `details.errors[]` with `field` as `body -> password`) and
    FastAPI's (`detail[]` with `loc`, `msg`, `type`). The two sets of keys do not collide."""

    INVALID = (ValidationFailed, MalformedBody)

    def status(self, error: DomainError) -> int:
        return 422 if isinstance(error, self.INVALID) else status_of(error)

    def body(self, error: DomainError, status: int) -> dict:
        if isinstance(error, self.INVALID):
            return validation_envelope(error.errors)
        return {"detail": error.message}


def validation_envelope(errors) -> dict:
    return {
        "error_code": "VAL_001", "error_name": "VALIDATION_ERROR",
        "message": "Request validation failed",
        "details": {"errors": [{"field": " -> ".join(map(str, e.loc)), "message": e.message,
                                "type": e.type} for e in errors]},
        "detail": [{"loc": list(e.loc), "msg": e.message, "type": e.type} for e in errors],
    }


class Platform(FastApiDialect):
    name = "platform"


class GemmaNet(FastApiDialect):
    name = "gemmanet"


class SkyCetus(Dialect):
    """SkyCetus answers `{"success": false, "error": ...}`; missing fields are 400."""
    name = "skycetus"

    def body(self, error: DomainError, status: int) -> dict:
        return {"success": False, "error": error.message}


class Hub2d(Dialect):
    name = "hub2d"

    def body(self, error: DomainError, status: int) -> dict:
        return {"error": error.message}


class CommHub(Dialect):
    name = "commhub"

    def body(self, error: DomainError, status: int) -> dict:
        return {"error": error.code, "message": error.message}


PLATFORM, GEMMANET, SKYCETUS, HUB2D, COMMHUB = Platform(), GemmaNet(), SkyCetus(), Hub2d(), CommHub()
BY_NAME = {d.name: d for d in (PLATFORM, GEMMANET, SKYCETUS, HUB2D, COMMHUB)}


def for_path(path: str) -> Dialect:
    """The dialect a path belongs to when no route claims it (unknown routes)."""
    if path.startswith("/api/v1/"):
        return PLATFORM          # FastAPI's {"detail": "Not Found"} suits platform and GemmaNet
    if path.startswith(("/api/", "/events/", "/mcp")):
        return COMMHUB
    return HUB2D
