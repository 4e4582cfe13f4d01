"""moto server in a thread, made faithful where the local stack depends on it.

DynamoDB executes each conditional write and transaction atomically; moto's backend runs
requests from concurrent threads without a lock, so two racing transactions could both
pass their conditions. The local stack serializes DynamoDB calls to keep AWS's guarantee
(S3 and everything else stay concurrent). Keep-alive is on, so each client keeps one
connection instead of opening one per call.
"""
from __future__ import annotations

import logging
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import WSGIRequestHandler, make_server


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):  # one line per AWS call would drown the stack's logs
        pass


class SerializedDynamoDB:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            with self.lock:
                return list(self.app(environ, start_response))
        return self.app(environ, start_response)


class Emulator:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self._server = None
        self._thread = None
        self._dynamodb = None

    def start(self) -> str:
        from infra.local import moto_patches
        moto_patches.apply()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._dynamodb = app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self.host, 0, app, threaded=True,
                                   request_handler=KeepAliveHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto",
                                        daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
        return f"http://{shown}:{port}"

    def dynamodb_items(self, table_name: str) -> list[dict]:
        """Every item of a table, copied from moto's backend under the DynamoDB lock: a
        consistent copy in one step, several times faster than paging a Scan over HTTP."""
        from moto.dynamodb.models import dynamodb_backends
        with self._dynamodb.lock:
            for regions in dynamodb_backends.values():
                for backend in regions.values():
                    table = backend.tables.get(table_name)
                    if table is not None:
                        return [item.to_json()["Attributes"] for item in table.all_items()]
        return []

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._thread.join(timeout=10)
