"""The local stack's AWS: moto's DynamoDB and S3 engines in this process.

- DynamoDB (infra/local/dynamodb.py): the app's data-plane calls reach moto in process,
  serialized, indexed and journaled; the same engine answers over HTTP for everything else.
- S3 (infra/local/s3.py): behind the moto server over HTTP, because presigned URLs must
  be reachable from outside; object changes are journaled.
- The moto server (werkzeug, threaded, keep-alive) is the one HTTP door for both.

Persistence (journal, snapshots, recovery) lives in persistence.py and attaches its
journal to both engines once the stored state is loaded.
"""
from __future__ import annotations

import logging
import os
import threading

from werkzeug.serving import WSGIRequestHandler, make_server


class KeepAliveHandler(WSGIRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_request(self, *args, **kwargs):  # one line per AWS call would drown the stack's logs
        pass


class Emulator:
    def __init__(self, host: str = "127.0.0.1", region: str | None = None):
        self.host = host
        self.region = region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
        self.dynamodb = None
        self.s3 = None
        self._server = None
        self._thread = None

    def start(self) -> str:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        from infra.local import dynamodb, moto_patches
        from infra.local.s3 import LocalS3
        moto_patches.apply()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self.s3 = LocalS3()
        other = self.s3.wsgi(DomainDispatcherApplication(create_backend_app))

        def app(environ, start_response):
            if environ.get("HTTP_X_AMZ_TARGET", "").startswith(dynamodb.TARGET_PREFIX):
                return dynamodb_http(environ, start_response)
            return other(environ, start_response)

        self._server = make_server(self.host, 0, app, threaded=True,
                                   request_handler=KeepAliveHandler)
        host, port = self._server.server_address[:2]
        url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '') else host}:{port}"
        self.dynamodb = dynamodb.LocalDynamoDB(self.region, endpoint=url)
        dynamodb_http = dynamodb.http_app(self.dynamodb)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto",
                                        daemon=True)
        self._thread.start()
        dynamodb.install_transport(self.dynamodb)
        return url

    def attach_journal(self, journal, directory) -> None:
        self.dynamodb.journal = journal
        self.s3.directory, self.s3.journal = directory, journal

    # ------------------------------------------------------------------ storage.Loader

    def load_items(self, table, images):
        self.dynamodb.load_items(table, images)

    def apply_items(self, changes):
        self.dynamodb.apply_items(changes)

    def load_object(self, bucket, key, body, metadata):
        self.s3.load_object(bucket, key, body, metadata)

    def delete_object(self, bucket, key):
        self.s3.delete_object(bucket, key)

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._thread.join(timeout=10)
