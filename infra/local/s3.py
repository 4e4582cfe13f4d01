"""The local stack's S3: moto's server, with every object change journaled before it is
acknowledged.

S3 stays behind the moto server (HTTP), because clients outside the process reach it too:
presigned upload and download URLs are real URLs. The app's S3 calls take the same path.
Object changes are rare next to DynamoDB writes, so they are serialized here: apply, read
the object's state after the request, write its body to the data directory, append the
journal record, and answer once the record is written. Path-style addressing only (the
emulator listens on an IP address, so botocore and presigned URLs use path style).
"""
from __future__ import annotations

import io
import re
import threading
from urllib.parse import parse_qs

from moto.core import DEFAULT_ACCOUNT_ID
from moto.s3.models import s3_backends

MUTATING = ("PUT", "POST", "DELETE")


def _backend():
    return s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


class LocalS3:
    def __init__(self, directory=None, journal=None):
        """Without a data directory and journal nothing is kept (an ephemeral stack)."""
        self.directory = directory
        self.journal = journal
        self.lock = threading.Lock()

    # ------------------------------------------------------------------ the write path

    def wsgi(self, app):
        """Wrap the moto server's WSGI app so object changes are journaled."""
        def durable(environ, start_response):
            target = _changed_objects(environ) if self.journal is not None else None
            if target is None:
                return app(environ, start_response)
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"], captured["headers"] = status, headers
                return lambda data: captured.setdefault("written", []).append(data)

            with self.lock:
                body = b"".join(app(environ, capture))
                body = b"".join(captured.get("written", [])) + body
                position = None
                if int(captured["status"].split(" ", 1)[0]) < 300:
                    bucket, keys = target
                    if keys is None:
                        keys = re.findall(r"<Key>(.*?)</Key>", environ.get("switchboard.body", ""))
                    changes = [self._after_image(bucket, key) for key in keys]
                    if changes:
                        position = self.journal.append({"s3": changes})
            if position is not None:
                self.journal.wait(position)
            start_response(captured["status"], captured["headers"])
            return [body]
        return durable

    def _after_image(self, bucket: str, key: str) -> list:
        found = _backend().get_object(bucket, key) if bucket in _backend().buckets else None
        if found is None:
            return [bucket, key, None, None]
        return [bucket, key, self.directory.store_object(found.value), dict(found.metadata)]

    # ------------------------------------------------------------------ recovery (storage.Loader)

    def load_object(self, bucket: str, key: str, body: bytes, metadata: dict) -> None:
        backend = _backend()
        if bucket not in backend.buckets:
            backend.create_bucket(bucket, "us-east-1")
        stored = backend.put_object(bucket, key, body)
        stored.set_metadata(dict(metadata), replace=True)

    def delete_object(self, bucket: str, key: str) -> None:
        backend = _backend()
        if bucket in backend.buckets:
            backend.delete_object(bucket, key)


def _changed_objects(environ) -> tuple[str, list[str] | None] | None:
    """(bucket, object keys) a mutating request may change; keys None for a multi-object
    delete (read from its body); None when it changes no object's content."""
    if environ["REQUEST_METHOD"] not in MUTATING or environ.get("HTTP_X_AMZ_TARGET"):
        return None
    path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8", errors="replace")
    bucket, _, key = path.lstrip("/").partition("/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if not bucket:
        return None
    if not key:
        if environ["REQUEST_METHOD"] == "POST" and "delete" in query:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            environ["switchboard.body"] = raw.decode("utf-8", errors="replace")
            environ["wsgi.input"] = io.BytesIO(raw)
            return bucket, None
        return None
    if "partNumber" in query or "uploads" in query or \
            (environ["REQUEST_METHOD"] == "DELETE" and "uploadId" in query):
        return None  # parts and upload bookkeeping change no visible object
    return bucket, [key]
