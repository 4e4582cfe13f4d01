"""Answers for requests no route takes, in the dialect the path belongs to.

API Gateway itself would answer 403 "Missing Authentication Token" for an unknown path
or an undeclared method, which no client of these APIs expects. So the app declares:
- for every path, the methods it lacks, answering 405 with an `Allow` header;
- a greedy `/{proxy+}` route answering 404.
Both run in AWS and in the local stack alike.
"""
from __future__ import annotations

from chalice import Chalice

from chalicelib.api import dialects
from chalicelib.api.routing import ALL_CONTENT_TYPES, ROUTES, error_response
from chalicelib.errors import MethodNotAllowed, NotFound

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def install(app: Chalice) -> None:
    owners = {spec.path: spec.dialect for spec in ROUTES}
    for index, (path, entries) in enumerate(sorted(app.routes.items())):
        missing = [m for m in METHODS if m not in entries]
        if missing:
            _method_fallback(app, path, missing, sorted(entries),
                             dialects.BY_NAME.get(owners.get(path), dialects.for_path(path)),
                             f"method_not_allowed_{index}")

    @app.route("/{proxy+}", methods=list(METHODS), content_types=ALL_CONTENT_TYPES,
               name="unknown_route")
    def unknown_route(proxy):
        path = "/" + proxy
        return error_response(dialects.for_path(path), NotFound(f"no route for {path}"))

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
