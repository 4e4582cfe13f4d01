"""Answers for requests no route takes, in the dialect the path belongs to, and the CORS
preflight of every path.

API Gateway itself would answer 403 "Missing Authentication Token" for an unknown path
or an undeclared method, which no client of these APIs expects. So the app declares:
- for every path, the methods it lacks, answering 405 with an `Allow` header that lists
  the methods the path really has;
- for every path, OPTIONS: the CORS preflight (api/edge.py), answered by the function, so
  allowed origins come from configuration in AWS as locally;
- a greedy `/{proxy+}` route answering 404.
All run in AWS and in the local stack alike.
"""
from __future__ import annotations

from chalice import Chalice, Response

from chalicelib.api import dialects, edge
from chalicelib.api.routing import ALL_CONTENT_TYPES, ROUTES, error_response
from chalicelib.errors import Forbidden, MethodNotAllowed, NotFound

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def install(app: Chalice) -> None:
    owners = {spec.path: spec.dialect for spec in ROUTES}
    for index, (path, entries) in enumerate(sorted(app.routes.items())):
        allowed = sorted(entries) + ["OPTIONS"]
        dialect = dialects.BY_NAME.get(owners.get(path), dialects.for_path(path))
        missing = [m for m in METHODS if m not in entries]
        if missing:
            _method_fallback(app, path, missing, allowed, dialect, f"method_not_allowed_{index}")
        _preflight(app, path, allowed, dialect, f"preflight_{index}")

    @app.route("/{proxy+}", methods=list(METHODS), content_types=ALL_CONTENT_TYPES,
               name="unknown_route")
    def unknown_route(proxy):
        path = "/" + proxy
        return error_response(dialects.for_path(path), NotFound(f"no route for {path}"))

    # A preflight for a path no route has is answered as for any: the request that
    # follows gets its 404 where the browser can read it.
    _preflight(app, "/{proxy+}", list(METHODS) + ["OPTIONS"], dialects.PLATFORM, "preflight_any")
    # Chalice names the argument `proxy+`; API Gateway names the path parameter `proxy`.
    for entry in app.routes["/{proxy+}"].values():
        entry.view_args = ["proxy"]


def _method_fallback(app, path, missing, allowed, dialect, name):
    allow = ", ".join(allowed)

    def method_not_allowed(**_):
        method = app.current_request.method
        return error_response(dialect, MethodNotAllowed(f"{method} is not allowed on {path}"),
                              headers={"Allow": allow})

    app.route(path, methods=missing, content_types=ALL_CONTENT_TYPES, name=name)(method_not_allowed)


def _preflight(app, path, allowed, dialect, name):
    def preflight(**_):
        request = app.current_request
        origin = request.headers.get("origin")
        if origin and edge.allowed_origin(origin) is None:
            return error_response(dialect, Forbidden(f"the origin {origin[:200]} is not allowed"))
        headers = {"Allow": ", ".join(allowed)}
        if origin:
            headers.update(edge.preflight_headers(
                allowed, request.headers.get("access-control-request-headers")))
        return Response(body="", status_code=204, headers=headers)

    app.route(path, methods=["OPTIONS"], content_types=ALL_CONTENT_TYPES, name=name)(preflight)
