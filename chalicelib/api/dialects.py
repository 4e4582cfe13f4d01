"""Each dialect's error envelope, from the one shared mapping of domain errors to statuses."""
from __future__ import annotations

from chalicelib.errors import DomainError, ValidationFailed, status_of


class Dialect:
    name = "switchboard"

    def status(self, error: DomainError) -> int:
        return status_of(error)

    def body(self, error: DomainError, status: int) -> dict:
        return {"error": error.code, "message": error.message}


class FastApiDialect(Dialect):
    """The platform and GemmaNet are FastAPI services: `{"detail": ...}`, 422 for bad fields."""

    def status(self, error: DomainError) -> int:
        return 422 if isinstance(error, ValidationFailed) else status_of(error)

    def body(self, error: DomainError, status: int) -> dict:
        if isinstance(error, ValidationFailed):
            return {"detail": [{"loc": ["body", *error.field.split(".")], "msg": error.message,
                                "type": "value_error"}]}
        return {"detail": error.message}


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
