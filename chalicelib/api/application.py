"""The Chalice application: blueprints, middleware, fallbacks. app.py adds the
WebSocket handlers and schedules, which Chalice needs defined in app.py itself."""
from __future__ import annotations

import threading
import time

from chalice import Chalice

from chalicelib import logs
from chalicelib.api import edge
from chalicelib.config import settings
from chalicelib.errors import Forbidden

# Request bodies of these types reach the app base64-encoded, byte for byte (file uploads).
BINARY_TYPES = ["multipart/form-data"]
# API Gateway's ANY method, as a Chalice route method (see api/fallback.py).
ANY_METHOD = "X-AMAZON-APIGATEWAY-ANY-METHOD"


class SwitchboardApp(Chalice):
    """Chalice keeps the current request on the app object. Lambda runs one request per
    process, but the local stack serves many at once from threads, so keep it per thread."""

    _local = threading.local()

    @property
    def current_request(self):
        return getattr(self._local, "request", None)

    @current_request.setter
    def current_request(self, value):
        self._local.request = value

    @property
    def lambda_context(self):
        return getattr(self._local, "context", None)

    @lambda_context.setter
    def lambda_context(self, value):
        self._local.context = value

    def __call__(self, event, context):
        """A method a path has no route for goes to the path's ANY route, as in API Gateway
        (Chalice would answer its own 405); the view still sees the method that was sent."""
        request_context = event.get("requestContext") or {}
        method = request_context.get("httpMethod")
        entries = self.routes.get(request_context.get("resourcePath"), {})
        if method in entries or ANY_METHOD not in entries:
            return super().__call__(event, context)
        from chalice.app import RestAPIEventHandler
        routed = {**event, "requestContext": {**request_context, "httpMethod": ANY_METHOD}}
        self.lambda_context = context
        handler = RestAPIEventHandler(self.routes, self.api, self.log, self.debug,
                                      middleware_handlers=self._get_middleware_handlers("http"))
        self.current_request = handler.create_request_object(routed, context)
        self.current_request.method = method
        return handler(routed, context)


def deployment_refusal(event):
    """A 403 in the path's dialect when the deployment's IP rules refuse the caller."""
    from chalicelib.api import dialects
    from chalicelib.api.routing import ROUTES, error_response
    from chalicelib.services.people import ip_rules
    try:
        ip_rules.check(settings().default_network_id, edge.source_ip(event.context))
    except Forbidden as error:
        owner = next((s.dialect for s in ROUTES if s.path == event.path), None)
        dialect = dialects.BY_NAME.get(owner) or \
            dialects.for_path(event.to_dict().get("path") or event.path)
        return error_response(dialect, error)
    return None


def create_app() -> Chalice:
    cfg = settings()
    log = logs.configure(cfg.log_level)
    app = SwitchboardApp(app_name="switchboard")
    app.experimental_feature_flags.update(["WEBSOCKETS"])
    # Downloads are base64 whatever their type: see FileResponse in api/transfer.py.
    app.api.binary_types = app.api.binary_types + BINARY_TYPES
    app.log.setLevel(cfg.log_level)
    if cfg.xray:
        from chalicelib.tracing import enable_xray
        enable_xray()

    from chalicelib.api import (commhub, docs, fallback, gemmanet, health, hub2d, metrics,
                                platform, skycetus)
    from chalicelib.services.insight.metrics import dialect_of, observe
    for module in (health, metrics, docs, platform, skycetus, gemmanet, hub2d, commhub):
        app.register_blueprint(module.blueprint)
    fallback.install(app)

    @app.middleware("http")
    def edge_middleware(event, get_response):
        """Every HTTP request: the deployment's IP rules first, then the route; every
        answer: security headers, CORS, X-Response-Time, X-Request-Id (api/edge.py)."""
        context = event.context or {}
        logs.request_id.set(context.get("requestId"))
        started = time.perf_counter()
        refusal = deployment_refusal(event)
        response = refusal if refusal is not None else get_response(event)
        edge.finish(response, origin=event.headers.get("origin"),
                    elapsed_ms=(time.perf_counter() - started) * 1000)
        if not isinstance(response.body, (str, bytes)):
            response.headers.setdefault("Content-Type", "application/json")
        if context.get("requestId"):
            response.headers.setdefault("X-Request-Id", context["requestId"])
        elapsed = time.perf_counter() - started
        route = context.get("resourcePath") or "unmatched"  # the template: bounded labels
        dialect = dialect_of(route, event.method, context.get("path") or route)
        observe(dialect, route, event.method, response.status_code, elapsed)
        log.info("request", extra={"method": event.method, "path": context.get("path"),
                                   "status": response.status_code,
                                   "duration_ms": round(elapsed * 1000, 1)})
        return response

    @app.middleware("websocket")
    def websocket_log(event, get_response):
        context = event.to_dict().get("requestContext") or {}
        logs.request_id.set(context.get("requestId"))
        started = time.perf_counter()
        response = get_response(event)
        log.info("websocket", extra={"route": context.get("routeKey"),
                                     "connection_id": context.get("connectionId"),
                                     "duration_ms": round((time.perf_counter() - started) * 1000, 1)})
        return response

    return app
