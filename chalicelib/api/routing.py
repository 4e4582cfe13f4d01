"""How a dialect adapter declares routes.

`DialectRouter.route` wraps a handler so that the adapter only translates:
- the caller is authenticated as the route declares (`any`, `admin`, `network_admin`,
  `open`, `public`),
  its network's IP rules and its credential's scopes allow the route;
- path parameters, the query and the body are read into the route's declared input
  models (api/inputs.py) before the handler runs: the handler gets `req.params` and
  `req.body` of the declared types, never raw input;
- domain errors, malformed input and crashes come back in the dialect's own envelope;
- every state-changing request (any method but GET, HEAD, OPTIONS) leaves one audit
  record, whatever its outcome (api/edge.py): `audit=` names the action where the
  derived name (`tasks.create`) would not say it. A read a service marks as worth
  recording (`audit.note(action=...)`: a secret revealed) leaves one too.

A route several dialects share (`/health`) answers in the caller's dialect, decided in
one place (`dialects.of_caller`).

Every declared route is recorded in ROUTES, with its input models: the method/404
fallbacks, the auth tests, the input sweep and the API description read it.
"""
from __future__ import annotations

import json
import re
import time
from functools import cached_property
from typing import NamedTuple
from urllib.parse import parse_qsl

from chalice import Blueprint, Response

from chalicelib import logs
from chalicelib.api import edge, inputs
from chalicelib.api.dialects import Dialect, of_caller
from chalicelib.auth import scopes
from chalicelib.auth.principal import Principal, anonymous
from chalicelib.auth.resolver import presented_secret
from chalicelib.config import settings
from chalicelib.services import audit as _audit
from chalicelib.errors import (DomainError, Forbidden, MalformedBody, PayloadTooLarge,
                               Unauthorized)

ANY, ADMIN, OPEN, PUBLIC = "any", "admin", "open", "public"
# An administrative route acting in the network a parameter names (CommHub's `network_id`):
# a credential's scopes must include `admin`, and the handler checks the caller administers
# that network, which need not be the credential's own.
NETWORK_ADMIN = "network_admin"
ALL_CONTENT_TYPES = ["*/*"]
# A JSON body larger than this is refused before it is parsed (413): no item it could
# become fits DynamoDB's 400 KB anyway. Multipart uploads have their own limit.
MAX_JSON_BODY = 1024 * 1024
log = logs.get("api")


class RouteSpec(NamedTuple):
    path: str
    method: str
    dialect: str
    auth: str
    body: type | None = None    # the body model (api/inputs.Input), read from body over query
    query: type | None = None   # the query model, read from the query string
    audit: str | None = None    # the audit action, when not derived from the path

    @property
    def path_params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"\{([^}]+)\}", self.path))


ROUTES: list[RouteSpec] = []


class ApiRequest:
    """What a handler sees of a request: the authenticated principal and the typed input
    (`params` from the query, `body` from the body over the query) its route declares."""

    def __init__(self, request, dialect: Dialect):
        self._request = request
        self.dialect = dialect
        self.principal: Principal | None = None
        self.params = None
        self.body = None

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

    @property
    def source_ip(self) -> str | None:
        """The caller's address as API Gateway reports it (never a header it could write)."""
        return edge.source_ip(self.context)

    @property
    def user_agent(self) -> str | None:
        return self.headers.get("user-agent")

    @cached_property
    def json(self) -> dict:
        """The body as an object; `{}` when empty; MalformedBody when it cannot be read."""
        raw = self.raw_body
        if not raw.strip():
            return {}
        if len(raw) > MAX_JSON_BODY:
            raise PayloadTooLarge(f"request bodies are limited to {MAX_JSON_BODY} bytes",
                                  limit=MAX_JSON_BODY)
        if self.content_type == "application/x-www-form-urlencoded" and raw.lstrip()[:1] not in b"{[":
            try:
                return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
            except UnicodeDecodeError:
                raise MalformedBody("the form body is not valid UTF-8") from None
        try:
            value = json.loads(raw)
        except json.JSONDecodeError as error:
            raise MalformedBody("the request body is not valid JSON", position=error.pos) from None
        except (ValueError, RecursionError):  # not UTF-8; nested beyond the parser's depth
            raise MalformedBody("the request body is not valid JSON") from None
        if not isinstance(value, dict):
            raise MalformedBody("the request body must be a JSON object", type="dict_type")
        return value

    def form_or_json(self) -> dict:
        """The body's fields: `{}` for multipart bodies, which api/transfer.py reads."""
        return {} if self.content_type.startswith("multipart/") else self.json

    def json_or_none(self) -> dict | None:
        if self.content_type.startswith("multipart/"):
            return None
        try:
            return self.json
        except MalformedBody:
            return None

    @property
    def response_stream(self):
        """Where a handler may stream its response, when the invoker offers one (the local
        gateway does; API Gateway's buffered Lambda proxy does not): None otherwise."""
        context = getattr(self._request, "lambda_context", None)
        return getattr(context, "response_stream", None)

    def deadline(self, cap_s: float, margin_s: float = 1.5) -> float:
        """A time.monotonic() deadline `cap_s` from now, kept `margin_s` clear of the end of
        the Lambda invocation (whose remaining time the context reports)."""
        context = getattr(self._request, "lambda_context", None)
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        budget = cap_s if remaining is None else min(cap_s, remaining() / 1000 - margin_s)
        return time.monotonic() + max(0.0, budget)

    def idempotency_key(self) -> str | None:
        """A client's retry key: the `Idempotency-Key` header, or `idempotency_key` in the
        body (for routes whose body model declares it)."""
        for header in ("idempotency-key", "x-idempotency-key"):
            if self.headers.get(header):
                return inputs.check_value(inputs.IdempotencyKey, self.headers[header].strip(),
                                          ("header", header))
        key = getattr(self.body, "idempotency_key", None)
        return key.strip() if key and key.strip() else None


def authenticate(req: ApiRequest, auth: str, method: str, path: str) -> Principal:
    """The caller, as the route needs it: then its network's IP rules (the deployment's
    were checked before routing) and its credential's scopes."""
    if auth == PUBLIC:
        return anonymous(settings().default_network_id)
    from chalicelib.services.people import credentials, ip_rules
    secret = presented_secret(req.headers, req.query, req.json_or_none)
    if secret:
        principal = credentials.resolve_secret(secret)._replace(source_ip=req.source_ip)
    elif auth == OPEN and settings().is_open(req.dialect.name):
        return anonymous(settings().default_network_id)
    else:
        raise Unauthorized("missing credentials")
    req.principal = principal  # known from here on, for the audit record of a refusal
    if principal.network_id != settings().default_network_id:
        ip_rules.check(principal.network_id, req.source_ip)
    if auth == ADMIN and not principal.is_admin:
        raise Forbidden("this route needs an administrator")
    refusal = scopes.refusal(principal.scopes, method, path, auth in (ADMIN, NETWORK_ADMIN))
    if refusal:
        raise Forbidden(refusal)
    return principal


def error_response(dialect: Dialect, error: DomainError, headers: dict | None = None) -> Response:
    status = dialect.status(error)
    return Response(body=dialect.body(error, status), status_code=status,
                    headers={**getattr(error, "headers", {}), **(headers or {})})


def internal_error_response(dialect: Dialect) -> Response:
    error = DomainError("internal server error")
    error.code = "internal_error"
    return Response(body=dialect.body(error, 500), status_code=500)


class DialectRouter:
    """A Chalice blueprint whose routes speak one dialect."""

    def __init__(self, dialect: Dialect, import_name: str):
        self.dialect = dialect
        self.blueprint = Blueprint(import_name)

    def route(self, path: str, methods=("GET",), auth: str = ANY, dialect: Dialect | None = None,
              body: type | None = None, query: type | None = None, audit: str | None = None,
              shared_with: tuple[Dialect, ...] = ()):
        """Declare a route; `dialect` overrides the router's. `shared_with` names the other
        dialects that document this same route: each caller is answered in its own.

        `body` and `query` are its input models (api/inputs.Input): the handler gets them as
        `req.body` (body fields over query fields) and `req.params` (query only). `audit`
        names the action its audit records carry."""
        dialect = dialect or self.dialect
        blueprint = self.blueprint

        def decorator(handler):
            def view(**path_params):
                request = blueprint.current_request
                method = request.method
                req = ApiRequest(request, of_caller(request, dialect, shared_with)
                                 if shared_with else dialect)
                note = _audit.begin()
                try:
                    req.principal = authenticate(req, auth, method, path)
                    inputs.check_path(path_params)
                    if query is not None:
                        req.params = inputs.decode(query, query=req.query)
                    if body is not None:
                        req.body = inputs.decode(body, query=req.query, body=req.form_or_json())
                    result = handler(req, **path_params)
                    response = result if isinstance(result, Response) else Response(body=result)
                except DomainError as error:
                    response = error_response(req.dialect, error)
                except Exception:
                    log.exception("unhandled error", extra={"path": path, "dialect": dialect.name})
                    response = internal_error_response(req.dialect)
                if method not in edge.SAFE_METHODS or note.action:
                    edge.audit_request(req, method=method, template=path, action=audit,
                                       status=response.status_code, path_params=path_params,
                                       note=note)
                return response

            view.__name__ = f"{dialect.name}_{handler.__module__.rsplit('.', 1)[-1]}_{handler.__name__}"
            blueprint.route(path, methods=list(methods), content_types=ALL_CONTENT_TYPES,
                            name=view.__name__)(view)
            for method in methods:
                ROUTES.append(RouteSpec(path, method, dialect.name, auth, body, query, audit))
            return handler
        return decorator
