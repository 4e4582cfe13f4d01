"""The Chalice application: blueprints, middleware, fallbacks. app.py adds the
WebSocket handlers and schedules, which Chalice needs defined in app.py itself."""
from __future__ import annotations

import threading
import time

from chalice import Chalice

from chalicelib import logs
from chalicelib.config import settings

# Request bodies of these types reach the app base64-encoded, byte for byte (file uploads).
BINARY_TYPES = ["multipart/form-data"]


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
    def request_log(event, get_response):
        context = event.context or {}
        logs.request_id.set(context.get("requestId"))
        started = time.perf_counter()
        response = get_response(event)
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
