"""How a dialect adapter declares routes.

`DialectRouter.route` wraps a handler so that the adapter only translates:
- the body is parsed liberally (JSON whatever the Content-Type says, or a form);
- the caller is authenticated as the route declares (`any`, `admin`, `open`, `public`);
- domain errors, malformed input and crashes come back in the dialect's own envelope.

Every declared route is recorded in ROUTES, which the method/404 fallbacks and the
auth tests read.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import parse_qsl

from chalice import Blueprint, Response

from chalicelib import logs
from chalicelib.api.dialects import Dialect
from chalicelib.auth.principal import Principal, anonymous
from chalicelib.auth.resolver import presented_secret
from chalicelib.config import settings
from chalicelib.errors import (DomainError, Forbidden, MalformedBody, Unauthorized,
                               ValidationFailed)

ANY, ADMIN, OPEN, PUBLIC = "any", "admin", "open", "public"
ALL_CONTENT_TYPES = ["*/*"]
log = logs.get("api")


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    dialect: str
    auth: str


ROUTES: list[RouteSpec] = []


class ApiRequest:
    """What a handler sees of a request: parsed input and the authenticated principal."""

    def __init__(self, request, dialect: Dialect):
        self._request = request
        self.dialect = dialect
        self.principal: Principal | None = None

    @property
    def headers(self):
        return self._request.headers

    @property
    def query(self) -> dict:
        return dict(self._request.query_params or {})

    def query_list(self, name: str) -> list[str]:
        params = self._request.query_params
        return params.getlist(name) if params and name in params else []

    @property
    def raw_body(self) -> bytes:
        return self._request.raw_body or b""

    @property
    def content_type(self) -> str:
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @property
    def context(self) -> dict:
        return self._request.context or {}

    @cached_property
    def json(self) -> dict:
        """The body as an object; `{}` when empty; MalformedBody when it cannot be read."""
        raw = self.raw_body
        if not raw.strip():
            return {}
        if self.content_type == "application/x-www-form-urlencoded" and raw.lstrip()[:1] not in b"{[":
            try:
                return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise MalformedBody("the form body is not valid UTF-8") from None
        try:
            value = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise MalformedBody("the request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise MalformedBody("the request body must be a JSON object")
        return value

    def json_or_none(self) -> dict | None:
        if self.content_type.startswith("multipart/"):
            return None
        try:
            return self.json
        except MalformedBody:
            return None

    def arg(self, name: str, default=None):
        """A parameter from the JSON body, else the query string: clients differ on where."""
        body = {} if self.content_type.startswith("multipart/") else self.json
        if name in body and body[name] is not None:
            return body[name]
        return self.query.get(name, default)

    def deadline(self, cap_s: float, margin_s: float = 1.5) -> float:
        """A time.monotonic() deadline `cap_s` from now, kept `margin_s` clear of the end of
        the Lambda invocation (whose remaining time the context reports)."""
        context = getattr(self._request, "lambda_context", None)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        budget = cap_s if remaining is None else min(cap_s, remaining() / 1000 - margin_s)
        return time.monotonic() + max(0.0, budget)

    def idempotency_key(self) -> str | None:
        """A client's retry key: `Idempotency-Key` header, or `idempotency_key` in the body."""
        key = self.headers.get("idempotency-key") or self.headers.get("x-idempotency-key") \
            or self.arg("idempotency_key")
        if key is None:
            return None
        key = str(key).strip()
        if not key or len(key) > 200:
            raise ValidationFailed("idempotency_key", "an idempotency key is 1-200 characters")
        return key

    def int_arg(self, name: str, default: int, *, minimum: int = 0, maximum: int = 1000) -> int:
        value = self.arg(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValidationFailed(name, f"'{name}' must be an integer") from None
        if isinstance(value, bool) or not minimum <= number <= maximum:
            raise ValidationFailed(name, f"'{name}' must be between {minimum} and {maximum}")
        return number


def authenticate(req: ApiRequest, auth: str) -> Principal:
    if auth == PUBLIC:
        return anonymous(settings().default_network_id)
    from chalicelib.services import identity
    secret = presented_secret(req.headers, req.query, req.json_or_none)
    if secret:
        principal = identity.resolve_secret(secret)
    elif auth == OPEN and settings().is_open(req.dialect.name):
        return anonymous(settings().default_network_id)
    else:
        raise Unauthorized("missing credentials")
    if auth == ADMIN and not principal.is_admin:
        raise Forbidden("this route needs an administrator")
    return principal


def error_response(dialect: Dialect, error: DomainError, headers: dict | None = None) -> Response:
    status = dialect.status(error)
    return Response(body=dialect.body(error, status), status_code=status, headers=headers or {})


def internal_error_response(dialect: Dialect) -> Response:
    error = DomainError("internal server error")
    error.code = "internal_error"
    return Response(body=dialect.body(error, 500), status_code=500)


class DialectRouter:
    """A Chalice blueprint whose routes speak one dialect."""

    def __init__(self, dialect: Dialect, import_name: str):
        self.dialect = dialect
        self.blueprint = Blueprint(import_name)

    def route(self, path: str, methods=("GET",), auth: str = ANY, dialect: Dialect | None = None):
        """Declare a route; `dialect` overrides the router's for routes several dialects share."""
        dialect = dialect or self.dialect
        blueprint = self.blueprint

        def decorator(handler):
            def view(**path_params):
                req = ApiRequest(blueprint.current_request, dialect)
                try:
                    req.principal = authenticate(req, auth)
                    result = handler(req, **path_params)
                except DomainError as error:
                    return error_response(dialect, error)
                except Exception:
                    log.exception("unhandled error", extra={"path": path, "dialect": dialect.name})
                    return internal_error_response(dialect)
                return result if isinstance(result, Response) else Response(body=result)

            view.__name__ = f"{dialect.name}_{handler.__module__.rsplit('.', 1)[-1]}_{handler.__name__}"
            blueprint.route(path, methods=list(methods), content_types=ALL_CONTENT_TYPES,
                            name=view.__name__)(view)
            for method in methods:
                ROUTES.append(RouteSpec(path, method, dialect.name, auth))
            return handler
        return decorator
