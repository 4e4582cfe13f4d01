"""Each dialect's error envelope, from the one shared mapping of domain errors to statuses.

This is the one place that decides how an error looks on each dialect's wire.
"""
from __future__ import annotations

import json

from chalicelib.errors import DomainError, FieldError, MalformedBody, ValidationFailed, status_of

# Bytes of JSON the field errors of one 422 may take (each is sent in both envelopes): a
# refusal stays small however many fields are wrong, the rest are counted.
ERRORS_MAX_BYTES = 1500


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
    listed, size = [], 0
    for error in errors:
        size += len(json.dumps([error.loc, error.message], default=str))
        if listed and size > ERRORS_MAX_BYTES:
            listed.append(FieldError(("body",), f"and {len(errors) - len(listed)} more errors",
                                     "too_many_errors"))
            break
        listed.append(error)
    errors = listed
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


# The credential a caller presents says which API it speaks: CommHub tokens, SkyCetus's
# secret header, the platform's JWTs and API keys.
CREDENTIAL_DIALECTS = (("utok_", "commhub"), ("ntok_", "commhub"), ("eyJ", "platform"),
                       ("sbk_", "platform"))


def of_caller(request, owner: Dialect, shared_with: tuple[Dialect, ...]) -> Dialect:
    """The dialect to answer a caller of a route several dialects document (`/health`):
    the one it names (`X-Switchboard-Dialect` or `?dialect=`), else the one its credential
    belongs to, else the route's owner."""
    candidates = {d.name: d for d in (owner, *shared_with)}
    headers, query = request.headers, request.query_params or {}
    named = (headers.get("x-switchboard-dialect") or query.get("dialect") or "").strip().lower()
    if named in candidates:
        return candidates[named]
    if headers.get("x-matrix-secret") and "skycetus" in candidates:
        return candidates["skycetus"]
    scheme, _, token = (headers.get("authorization") or "").partition(" ")
    token = (token or scheme).strip() or (query.get("token") or "")
    for prefix, name in CREDENTIAL_DIALECTS:
        if token.startswith(prefix) and name in candidates:
            return candidates[name]
    return owner


def for_path(path: str) -> Dialect:
    """The dialect a path belongs to when no route claims it (unknown routes)."""
    if path.startswith("/api/v1/"):
        return PLATFORM          # FastAPI's {"detail": "Not Found"} suits platform and GemmaNet
    if path.startswith(("/api/", "/events/", "/mcp")):
        return COMMHUB
    return HUB2D
