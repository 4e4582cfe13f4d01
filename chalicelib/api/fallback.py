"""Answers for requests no route takes, in the dialect the path belongs to, and the CORS
preflight of every path.

API Gateway itself would answer 403 "Missing Authentication Token" for an unknown path
or an undeclared method, which no client of these APIs expects. So every path also gets
API Gateway's ANY method (`ANY_METHOD`: Chalice writes a route's method, lower-cased, as
the OpenAPI key, which makes `x-amazon-apigateway-any-method`), answered by the function:
- OPTIONS: the CORS preflight (api/edge.py), so allowed origins come from configuration
  in AWS as locally;
- any other method the path lacks: 405 with an `Allow` header listing the methods it has;
and a greedy `/{proxy+}` answers 404 (and preflights) for paths no route has.
A path's declared methods take precedence over ANY in API Gateway, and in the app
(SwitchboardApp dispatches a method it has no route for to the path's ANY route). One
method per path keeps the API definition small: the template stays under
CloudFormation's 1 MB as routes grow.
"""
from __future__ import annotations

from chalice import Chalice, Response

from chalicelib.api import dialects, edge
from chalicelib.api.application import ANY_METHOD
from chalicelib.api.routing import ALL_CONTENT_TYPES, ROUTES, error_response
from chalicelib.errors import Forbidden, MethodNotAllowed, NotFound

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def install(app: Chalice) -> None:
    owners = {spec.path: spec.dialect for spec in ROUTES}
    for index, (path, entries) in enumerate(sorted(app.routes.items())):
        dialect = dialects.BY_NAME.get(owners.get(path), dialects.for_path(path))
        _other_methods(app, path, sorted(entries) + ["OPTIONS"], dialect, f"other_methods_{index}")

    allowed_anywhere = list(METHODS) + ["OPTIONS"]

    @app.route("/{proxy+}", methods=[ANY_METHOD], content_types=ALL_CONTENT_TYPES,
               name="unknown_route")
    def unknown_route(proxy):
        request = app.current_request
        path = "/" + proxy
        if request.method == "OPTIONS":
            # A preflight for a path no route has is answered as for any: the request that
            # follows gets its 404 where the browser can read it.
            return preflight(request, allowed_anywhere, dialects.for_path(path))
        return error_response(dialects.for_path(path), NotFound(f"no route for {path}"))

    # Chalice names the argument `proxy+`; API Gateway names the path parameter `proxy`.
    for entry in app.routes["/{proxy+}"].values():
        entry.view_args = ["proxy"]


def _other_methods(app, path, allowed, dialect, name):
    allow = ", ".join(allowed)

    def other_method(**_):
        request = app.current_request
        if request.method == "OPTIONS":
            return preflight(request, allowed, dialect)
        return error_response(dialect, MethodNotAllowed(f"{request.method} is not allowed on "
                                                        f"{path}"), headers={"Allow": allow})

    app.route(path, methods=[ANY_METHOD], content_types=ALL_CONTENT_TYPES, name=name)(other_method)


def preflight(request, allowed: list[str], dialect) -> Response:
    """204 with `Allow`, and the CORS answer for an allowed `Origin` (403 for another)."""
    origin = request.headers.get("origin")
    if origin and edge.allowed_origin(origin) is None:
        return error_response(dialect, Forbidden(f"the origin {origin[:200]} is not allowed"))
    headers = {"Allow": ", ".join(allowed)}
    if origin:
        requested = request.headers.get("access-control-request-headers")
        headers.update(edge.preflight_headers(allowed, requested))
    return Response(body="", status_code=204, headers=headers)
