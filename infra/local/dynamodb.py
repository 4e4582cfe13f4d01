"""The local stack's DynamoDB: moto's engine, called in process, one request at a time.

Every DynamoDB request goes through `LocalDynamoDB.execute`, from either door:
- in process: `install_transport` routes the app's data-plane calls (GetItem, Query,
  TransactWriteItems, ...) from botocore straight to moto's request handler, skipping
  request signing, HTTP over loopback and the moto server's WSGI stack (about ten times
  faster per call). Control-plane calls (CreateTable, DescribeTable) keep botocore's full
  path to the moto server;
- over HTTP: the moto server hands DynamoDB requests here (see emulator.py), so a tool
  pointed at the emulator sees the same data, under the same rules.

`execute` keeps DynamoDB's promises that moto alone does not:
- atomicity: one request at a time under a lock, so two racing conditional writes or
  transactions can never both pass their conditions;
- Query cost: key_index keeps every key of every table and index in order (moto_patches);
- durability: a write's after-images go to the journal in the order writes were applied,
  and the caller is answered only once its record is written (see journal.py).
"""
from __future__ import annotations

import base64
import json
import threading

from moto.core import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
from moto.dynamodb.responses import DynamoHandler

from infra.local import key_index

DATA_PLANE = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan",
                        "BatchGetItem", "BatchWriteItem", "TransactGetItems",
                        "TransactWriteItems"})
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem",
                    "TransactWriteItems"})
TARGET_PREFIX = "DynamoDB_20120810."


class _Request:
    """What moto's request handler reads of a request."""
    method = "POST"

    def __init__(self, body: str, headers: dict):
        self.body = body
        self.headers = headers


def _written_keys(operation: str, params: dict) -> list[tuple[str, dict | None, dict | None]]:
    """(table, key, item) for every item a write request names; `item` when the key must be
    read off a put item with the table's schema."""
    if operation == "PutItem":
        return [(params["TableName"], None, params["Item"])]
    if operation in ("UpdateItem", "DeleteItem"):
        return [(params["TableName"], params["Key"], None)]
    if operation == "BatchWriteItem":
        named = []
        for table, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    named.append((table, None, request["PutRequest"]["Item"]))
                elif "DeleteRequest" in request:
                    named.append((table, request["DeleteRequest"]["Key"], None))
        return named
    named = []
    for entry in params.get("TransactItems", []):
        for kind, op in entry.items():
            if kind == "Put":
                named.append((op["TableName"], None, op["Item"]))
            elif kind in ("Update", "Delete"):
                named.append((op["TableName"], op["Key"], None))
    return named


def _typed(value: dict) -> DynamoType:
    """DynamoType(value), built directly: several times faster for bulk restores."""
    (kind, inner), = value.items()
    typed = DynamoType.__new__(DynamoType)
    typed.type = kind
    if kind == "L":
        inner = [_typed(v) for v in inner]
    elif kind == "M":
        inner = {k: _typed(v) for k, v in inner.items()}
    typed.value = inner
    return typed


def _blob(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _decode_blobs(value):
    """botocore hands binary attributes to callers as bytes; the wire carries base64."""
    if isinstance(value, dict):
        if len(value) == 1:
            (kind, inner), = value.items()
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list):
                return {"BS": [base64.b64decode(v) for v in inner]}
        return {k: _decode_blobs(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_blobs(v) for v in value]
    return value


class LocalDynamoDB:
    def __init__(self, region: str, endpoint: str | None = None, journal=None):
        """`endpoint`: the URL the app's clients are configured with (the emulator's, or
        AWS's own under `mock_aws`); only clients aimed at it are served in process."""
        self.region = region
        self.journal = journal
        self.lock = threading.Lock()
        self.url = f"https://dynamodb.{region}.amazonaws.com/"
        self.endpoint = (endpoint or self.url).rstrip("/")

    @property
    def backend(self):
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][self.region]

    def headers_for(self, operation: str) -> dict:
        return {"X-Amz-Target": TARGET_PREFIX + operation,
                "Content-Type": "application/x-amz-json-1.0",
                "Authorization": "AWS4-HMAC-SHA256 Credential=local/20250101/"
                                 f"{self.region}/dynamodb/aws4_request"}

    def execute(self, operation: str, params: dict, body: str, headers: dict) -> tuple:
        """Run one request: (status, headers, JSON body), moto's answer, once durable."""
        handler = DynamoHandler()
        position = None
        with self.lock:
            status, response_headers, out = handler._dispatch(_Request(body, headers),
                                                              self.url, headers)
            if status == 200 and operation in WRITES and self.journal is not None:
                changes = self._after_images(handler.dynamodb_backend, operation, params)
                if changes:
                    position = self.journal.append({"d": changes})
        if position is not None:
            self.journal.wait(position)
        return status, response_headers, out

    @staticmethod
    def _after_images(backend, operation: str, params: dict) -> list:
        """[table, key, item now stored or None] for every item a write request named."""
        changes = []
        for table_name, key, item in _written_keys(operation, params):
            table = backend.tables.get(table_name)
            if table is None:
                continue
            source = key if key is not None else item
            if table.hash_key_attr not in source:
                continue
            hash_key = DynamoType(source[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in source:
                    continue
                range_key = DynamoType(source[table.range_key_attr])
            stored = table.get_item(hash_key, range_key)
            names = [table.hash_key_attr] + ([table.range_key_attr] if range_key else [])
            changes.append([table_name, {name: source[name] for name in names},
                            stored.to_json()["Attributes"] if stored is not None else None])
        return changes

    # ------------------------------------------------------------------ in process

    def call(self, operation: str, params: dict) -> dict:
        """A data-plane call from botocore: the parsed response, or botocore's ClientError."""
        status, _, out = self.execute(operation, params, json.dumps(params, default=_blob),
                                      self.headers_for(operation))
        parsed = json.loads(out) if out else {}
        if '"B' in out:
            parsed = _decode_blobs(parsed)
        if status >= 400:
            from botocore.exceptions import ClientError
            code = parsed.pop("__type", "").rsplit("#", 1)[-1]
            message = parsed.pop("message", None) or parsed.pop("Message", "")
            raise ClientError({"Error": {"Code": code, "Message": message},
                               "ResponseMetadata": {"HTTPStatusCode": status,
                                                    "HTTPHeaders": {}}, **parsed}, operation)
        parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {},
                                      "RetryAttempts": 0}
        return parsed

    # ------------------------------------------------------------------ recovery (storage.Loader)

    def load_items(self, table_name: str, images) -> None:
        table = self.backend.get_table(table_name)
        with self.lock:
            for image in images:
                self._store(table, image)
            table._switchboard_keys = None  # rebuilt from the items on first use

    def apply_items(self, changes: list) -> None:
        with self.lock:
            for table_name, key, image in changes:
                table = self.backend.tables.get(table_name)
                if table is None:
                    continue
                if image is None:
                    table.delete_item(DynamoType(key[table.hash_key_attr]),
                                      DynamoType(key[table.range_key_attr])
                                      if table.range_key_attr else None)
                else:
                    item = self._store(table, image)
                    key_index.refresh(table, item.hash_key, item.range_key)

    @staticmethod
    def _store(table, image: dict) -> Item:
        """Put an item that was valid when first written, skipping moto's per-attribute
        size re-check (quadratic in the attribute count): restores are bulk work."""
        item = Item.__new__(Item)
        item.attrs = LimitedSizeDict.__new__(LimitedSizeDict)
        for name, value in image.items():
            dict.__setitem__(item.attrs, name, _typed(value))
        item.hash_key = item.attrs[table.hash_key_attr]
        item.range_key = item.attrs[table.range_key_attr] if table.range_key_attr else None
        if item.range_key is not None:
            table.items[item.hash_key][item.range_key] = item
        else:
            table.items[item.hash_key] = item
        return item

    def key_attributes(self) -> dict[str, list[str]]:
        return {name: [t.hash_key_attr] + ([t.range_key_attr] if t.range_key_attr else [])
                for name, t in self.backend.tables.items()}


_installed: LocalDynamoDB | None = None


def install_transport(engine: LocalDynamoDB) -> None:
    """Route this process's DynamoDB data-plane calls aimed at `engine.endpoint` to it."""
    global _installed
    from infra.local import transport
    if _installed is not None:
        transport.unroute("dynamodb", _installed.endpoint)
    transport.route("dynamodb", engine.endpoint,
                    lambda client, operation, params: engine.call(operation, params)
                    if operation in DATA_PLANE else transport.PASS)
    _installed = engine


def http_app(engine: LocalDynamoDB):
    """A WSGI app answering DynamoDB's HTTP API through `engine` (the moto server's door)."""
    def app(environ, start_response):
        operation = environ.get("HTTP_X_AMZ_TARGET", "").split(".", 1)[-1]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length).decode("utf-8") if length else "{}"
        headers = {name[5:].replace("_", "-").title(): value
                   for name, value in environ.items() if name.startswith("HTTP_")}
        headers["Content-Type"] = environ.get("CONTENT_TYPE", "application/x-amz-json-1.0")
        try:
            params = json.loads(body) if operation in WRITES else {}
        except ValueError:
            params = {}
        status, response_headers, out = engine.execute(operation, params, body, headers)
        payload = out.encode() if isinstance(out, str) else (out or b"")
        names = {"content-length"}
        pairs = [(k, str(v)) for k, v in response_headers.items()
                 if k.lower() not in names and k.lower() != "status"]
        pairs.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", pairs)
        return [payload]
    return app
