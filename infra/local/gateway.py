"""A local API Gateway: invokes the Chalice app the way API Gateway invokes Lambda.

- REST: each HTTP request becomes an API Gateway proxy event (REST API, payload 1.0),
  matched to a route template as API Gateway matches resources (static segments before
  `{param}`, `{proxy+}` last, trailing slash ignored); bodies of binary media types are
  base64-encoded. API Gateway's limits apply: 10 MB requests, 6 MB Lambda payloads, a
  29 s integration timeout.
- WebSocket: sockets on `/ws` and `/ws/node` become `$connect` / `$default` /
  `$disconnect` events for the app's websocket handlers, resolved from their handler
  strings as Lambda resolves them. The socket's path is reported in
  `requestContext.path`.
- The Management API (`POST|GET|DELETE /@connections/{id}`) that `post_to_connection`
  calls, so the app's boto3 push code reaches the right local socket. The app's own posts
  and deletes are answered in process (`management_call`, through infra/local/transport.py)
  with the same results and errors; clients outside the process use HTTP.
- With SWITCHBOARD_LOCAL_CLOCK_CONTROL=1 only, `GET /@clock` and `POST /@clock
  {"advance_ms": N}`: tests move the stack's clock forward (chalicelib/clock.py) to make
  schedules, deadlines and expiries come due without waiting.

Handlers run on a thread pool: Lambda gives each invocation its own process; here a
thread, which is why the app keeps its current request per thread. GET handlers are offered
a response stream (`context.response_stream`), as API Gateway's STREAM transfer mode offers
a Lambda one; the event stream routes use it to hold SSE open (`SWITCHBOARD_LOCAL_STREAMING=off`
answers them in windows, as a buffered API Gateway does).
"""
from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import parse_qsl

MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_LAMBDA_PAYLOAD = 6 * 1024 * 1024
MAX_FRAME_BYTES = 128 * 1024
INTEGRATION_TIMEOUT_S = 29.0
WEBSOCKET_PATHS = ("/ws", "/ws/node")
MANAGEMENT_PREFIX = "/@connections/"
CLOCK_PATH = "/@clock"


class RouteTable:
    """API Gateway's resource matching over Chalice's route templates."""

    def __init__(self, templates):
        self._entries = [(t, [s for s in t.strip("/").split("/") if s]) for t in templates]

    def match(self, path: str) -> tuple[str, dict] | None:
        segments = [s for s in path.strip("/").split("/") if s]
        best = None
        for template, parts in self._entries:
            found = self._match(parts, segments)
            if found and (best is None or found[1] > best[2]):
                best = (template, found[0], found[1])
        return (best[0], best[1]) if best else None

    @staticmethod
    def _match(parts, segments):
        params, score = {}, []
        for i, part in enumerate(parts):
            if part.startswith("{") and part.endswith("+}"):
                rest = segments[i:]
                if not rest:
                    return None
                params[part[1:-2]] = "/".join(rest)
                score.append(0)
                return params, score
            if i >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                params[part[1:-1]] = segments[i]
                score.append(1)
            elif part == segments[i]:
                score.append(2)
            else:
                return None
        return (params, score) if len(parts) == len(segments) else None


def is_binary(content_type: str, binary_types) -> bool:
    mime = content_type.split(";")[0].strip().lower()
    for candidate in binary_types:
        candidate = candidate.lower()
        if candidate == "*/*" or candidate == mime or (
                candidate.endswith("/*") and mime.startswith(candidate[:-1])):
            return True
    return False


class LambdaContext:
    """The parts of Lambda's context object handlers use."""

    def __init__(self, function_name: str, timeout_s: float):
        self.function_name = function_name
        self.aws_request_id = str(uuid.uuid4())
        self.memory_limit_in_mb = 512
        self.invoked_function_arn = f"arn:aws:lambda:local:000000000000:function:{function_name}"
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


@dataclass
class LocalSocket:
    connection_id: str
    send: object
    path: str
    source_ip: str
    user_agent: str
    connected_at: float = field(default_factory=time.time)
    last_active_at: float = field(default_factory=time.time)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    closed: bool = False

    async def deliver(self, data: bytes) -> bool:
        async with self.lock:
            if self.closed:
                return False
            try:
                text = data.decode("utf-8")
                await self.send({"type": "websocket.send", "text": text})
            except UnicodeDecodeError:
                await self.send({"type": "websocket.send", "bytes": data})
            except Exception:  # the peer went away between our check and the send
                self.closed = True
                return False
            return True


class ResponseStream:
    """A response a handler writes as it goes, as API Gateway's STREAM transfer mode lets a
    Lambda do: headers first, then the body in pieces. Offered to GET handlers through the
    Lambda context (`context.response_stream`); only streaming handlers (SSE) use it.
    Handlers run in worker threads; the writes hop onto the event loop."""

    def __init__(self, loop, send):
        self._loop, self._send = loop, send
        self.started = False
        self.closed = False

    def _deliver(self, message: dict) -> None:
        if self.closed:
            return
        try:
            asyncio.run_coroutine_threadsafe(self._send(message), self._loop).result(timeout=30)
        except Exception:  # the client went away
            self.closed = True

    def start(self, status: int, headers: dict) -> None:
        self.started = True
        self._deliver({"type": "http.response.start", "status": status,
                       "headers": [(k.lower().encode(), str(v).encode("latin-1"))
                                   for k, v in headers.items()]})

    def write(self, text: str) -> None:
        self._deliver({"type": "http.response.body", "body": text.encode(), "more_body": True})

    async def watch(self, receive) -> None:
        """Notice the client leaving, so the handler stops writing into nothing."""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                self.closed = True
                return

    async def finish(self) -> None:
        if not self.closed:
            try:
                await self._send({"type": "http.response.body", "body": b"", "more_body": False})
            except Exception:
                pass
        self.closed = True


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class LocalGateway:
    """The ASGI application serving REST, WebSocket and Management API on one port."""

    def __init__(self, app_module, *, stage: str = "api", api_id: str = "local",
                 max_workers: int = 256, timeout_s: float = INTEGRATION_TIMEOUT_S,
                 streaming: bool = True):
        self.module = app_module
        self.app = app_module.app
        self.stage = stage
        self.api_id = api_id
        self.timeout_s = timeout_s
        self.streaming = streaming  # offer handlers a response stream (API Gateway STREAM mode)
        self.routes = RouteTable(self.app.routes.keys())
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda")
        self.sockets: dict[str, LocalSocket] = {}
        self.loop: asyncio.AbstractEventLoop | None = None  # the server's, seen on first call
        self.ws_handlers = {
            route_key: getattr(app_module, config.handler_string.rsplit(".", 1)[-1])
            for route_key, config in self.app.websocket_handlers.items()
        }

    # ------------------------------------------------------------------ ASGI entry

    async def __call__(self, scope, receive, send):
        self.loop = self.loop or asyncio.get_running_loop()
        if scope["type"] == "http":
            if scope["path"].startswith(MANAGEMENT_PREFIX):
                await self._management(scope, receive, send)
            elif scope["path"] == CLOCK_PATH and os.environ.get("SWITCHBOARD_LOCAL_CLOCK_CONTROL") == "1":
                await self._clock(scope, receive, send)
            else:
                await self._rest(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _invoke(self, handler, event, function_name: str, context=None):
        context = context or LambdaContext(function_name, self.timeout_s)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, handler, event, context)

    # ------------------------------------------------------------------ REST

    @staticmethod
    async def _read_body(receive, limit: int) -> bytes | None:
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body"):
                return b"".join(chunks)

    @staticmethod
    def _headers(scope) -> tuple[dict, dict]:
        single, multi = {}, {}
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            key = next((k for k in single if k.lower() == name.lower()), name)
            single[key] = value
            multi.setdefault(key, []).append(value)
        return single, multi

    @staticmethod
    def _query(scope) -> tuple[dict | None, dict | None]:
        pairs = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        if not pairs:
            return None, None
        single, multi = {}, {}
        for name, value in pairs:
            single[name] = value
            multi.setdefault(name, []).append(value)
        return single, multi

    async def _rest(self, scope, receive, send):
        method = scope["method"].upper()
        path = scope["path"] if scope["path"] == "/" else scope["path"].rstrip("/") or "/"
        declared = scope_header(scope, "content-length")
        if declared and declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
            return await respond(send, 413, {"message": "Request Too Long"})
        body = await self._read_body(receive, MAX_REQUEST_BYTES)
        if body is None:
            return await respond(send, 413, {"message": "Request Too Long"})
        matched = self.routes.match(path)
        if matched is None:  # the app declares /{proxy+}, so only a bare root lands here
            return await respond(send, 403, {"message": "Missing Authentication Token"})
        template, params = matched
        headers, multi_headers = self._headers(scope)
        query, multi_query = self._query(scope)
        content_type = scope_header(scope, "content-type") or ""
        binary = bool(body) and is_binary(content_type, self.app.api.binary_types)
        client = scope.get("client") or ("127.0.0.1", 0)
        event = {
            "resource": template,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": params or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": template,
                "httpMethod": method,
                "path": f"/{self.stage}{path}",
                "stage": self.stage,
                "requestId": str(uuid.uuid4()),
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": client[0], "userAgent": headers.get("User-Agent")},
                "domainName": scope_header(scope, "host") or "localhost",
                "apiId": self.api_id,
                "accountId": "000000000000",
                "protocol": f"HTTP/{scope.get('http_version', '1.1')}",
            },
            "body": (base64.b64encode(body).decode("ascii") if binary
                     else body.decode("utf-8", errors="replace")) if body else None,
            "isBase64Encoded": binary,
        }
        if len(json.dumps(event)) > MAX_LAMBDA_PAYLOAD:
            return await respond(send, 413, {"message": "Request must be smaller than 6291456 "
                                                        "bytes for the InvokeFunction operation"})
        context = LambdaContext("api_handler", self.timeout_s)
        stream = None
        if self.streaming and method == "GET":
            stream = context.response_stream = ResponseStream(asyncio.get_running_loop(), send)
        invocation = asyncio.ensure_future(self._invoke(self.app, event, "api_handler", context))
        watcher = asyncio.ensure_future(stream.watch(receive)) if stream else None
        try:
            try:
                result = await asyncio.wait_for(asyncio.shield(invocation), self.timeout_s)
            except asyncio.TimeoutError:
                if stream is None or not stream.started:
                    return await respond(send, 504, {"message": "Endpoint request timed out"})
                result = await invocation  # a streamed response ends itself (stream_max_s)
            if stream is not None and stream.started:
                return await stream.finish()
            await self._send_result(send, result, head=method == "HEAD")
        finally:
            if watcher:
                watcher.cancel()

    @staticmethod
    async def _send_result(send, result: dict, head: bool = False):
        body = result.get("body") or ""
        payload = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode("utf-8")
        if len(payload) > MAX_LAMBDA_PAYLOAD:
            return await respond(send, 502, {"message": "Internal server error"})
        headers = []
        for name, value in (result.get("headers") or {}).items():
            headers.append((name.lower().encode(), str(value).encode("latin-1")))
        for name, values in (result.get("multiValueHeaders") or {}).items():
            for value in values:
                headers.append((name.lower().encode(), str(value).encode("latin-1")))
        headers = [h for h in headers if h[0] != b"content-length"]
        headers.append((b"content-length", str(len(payload)).encode()))
        await send({"type": "http.response.start", "status": int(result.get("statusCode", 200)),
                    "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else payload})

    # ------------------------------------------------------------------ WebSocket

    def _ws_event(self, route_key: str, event_type: str, sock: LocalSocket, scope,
                  body: str | None = None, **extra_context) -> dict:
        headers, multi_headers = self._headers(scope)
        query, multi_query = self._query(scope)
        context = {
            "routeKey": route_key,
            "eventType": event_type,
            "messageDirection": "IN",
            "stage": self.stage,
            "connectedAt": int(sock.connected_at * 1000),
            "requestTimeEpoch": int(time.time() * 1000),
            "requestId": str(uuid.uuid4()),
            "domainName": scope_header(scope, "host") or "localhost",
            "connectionId": sock.connection_id,
            "apiId": self.api_id,
            "identity": {"sourceIp": sock.source_ip, "userAgent": sock.user_agent},
            "path": sock.path,
            **extra_context,
        }
        event = {"requestContext": context, "isBase64Encoded": False}
        if event_type == "CONNECT":
            event.update(headers=headers, multiValueHeaders=multi_headers,
                         queryStringParameters=query, multiValueQueryStringParameters=multi_query)
        if body is not None:
            event["body"] = body
        return event

    async def _ws_call(self, route_key: str, event: dict) -> dict:
        handler = self.ws_handlers.get(route_key)
        if handler is None:
            return {"statusCode": 200}
        try:
            return await asyncio.wait_for(self._invoke(handler, event, route_key), self.timeout_s) or {}
        except asyncio.TimeoutError:
            return {"statusCode": 504}

    async def _websocket(self, scope, receive, send):
        path = scope["path"].rstrip("/") or "/"
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if path not in WEBSOCKET_PATHS:
            return await send({"type": "websocket.close", "code": 1008})
        client = scope.get("client") or ("127.0.0.1", 0)
        sock = LocalSocket(connection_id=new_connection_id(), send=send, path=path,
                           source_ip=client[0], user_agent=scope_header(scope, "user-agent") or "")
        result = await self._ws_call("$connect", self._ws_event("$connect", "CONNECT", sock, scope))
        if int(result.get("statusCode", 200)) >= 300:
            return await send({"type": "websocket.close", "code": 1008})
        await send({"type": "websocket.accept"})
        self.sockets[sock.connection_id] = sock
        reason = "Client disconnected"
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    break
                data = message.get("text")
                if data is None:
                    data = (message.get("bytes") or b"").decode("utf-8", errors="replace")
                if len(data.encode("utf-8")) > MAX_FRAME_BYTES:
                    reason = "Message too big"
                    await send({"type": "websocket.close", "code": 1009})
                    break
                sock.last_active_at = time.time()
                await self._ws_call("$default", self._ws_event(
                    "$default", "MESSAGE", sock, scope, body=data, messageId=uuid.uuid4().hex))
        finally:
            sock.closed = True
            self.sockets.pop(sock.connection_id, None)
            await self._ws_call("$disconnect", self._ws_event(
                "$disconnect", "DISCONNECT", sock, scope, disconnectStatusCode=1000,
                disconnectReason=reason))

    # ------------------------------------------------------------------ Management API

    async def _management(self, scope, receive, send):
        connection_id = scope["path"][len(MANAGEMENT_PREFIX):]
        sock = self.sockets.get(connection_id)
        body = await self._read_body(receive, MAX_FRAME_BYTES + 1)
        if sock is None or sock.closed:
            return await respond(send, 410, {"message": None},
                                 extra_headers=[(b"x-amzn-errortype", b"GoneException")])
        method = scope["method"].upper()
        if method == "POST":
            if body is None or len(body) > MAX_FRAME_BYTES:
                return await respond(send, 413, {"message": "Message too long"},
                                     extra_headers=[(b"x-amzn-errortype",
                                                     b"PayloadTooLargeException")])
            if not await sock.deliver(body):
                return await respond(send, 410, {"message": None},
                                     extra_headers=[(b"x-amzn-errortype", b"GoneException")])
            return await respond(send, 200, None)
        if method == "GET":
            return await respond(send, 200, {
                "ConnectedAt": _iso(sock.connected_at), "LastActiveAt": _iso(sock.last_active_at),
                "Identity": {"SourceIp": sock.source_ip, "UserAgent": sock.user_agent}})
        if method == "DELETE":
            await self._close(sock)
            return await respond(send, 204, None)
        return await respond(send, 405, {"message": "Method not allowed"})


    def management_call(self, client, operation: str, params: dict):
        """`PostToConnection` and `DeleteConnection` from this process's boto3, answered as the
        HTTP door above answers them; anything else (or a call from the server's own thread,
        which must not wait on itself) goes over HTTP."""
        from infra.local import transport
        loop = self.loop
        if operation not in ("PostToConnection", "DeleteConnection") or loop is None or \
                _running_loop() is loop:
            return transport.PASS
        sock = self.sockets.get(params["ConnectionId"])
        if sock is None or sock.closed:
            raise _management_error(client, operation, 410, "GoneException")
        if operation == "PostToConnection":
            data = params["Data"]
            data = data.encode() if isinstance(data, str) else bytes(data)
            if len(data) > MAX_FRAME_BYTES:
                raise _management_error(client, operation, 413, "PayloadTooLargeException",
                                        "Message too long")
            if not asyncio.run_coroutine_threadsafe(sock.deliver(data), loop).result(
                    timeout=self.timeout_s):
                raise _management_error(client, operation, 410, "GoneException")
            return {"ResponseMetadata": {"HTTPStatusCode": 200, "HTTPHeaders": {},
                                         "RetryAttempts": 0}}
        asyncio.run_coroutine_threadsafe(self._close(sock), loop).result(timeout=self.timeout_s)
        return {"ResponseMetadata": {"HTTPStatusCode": 204, "HTTPHeaders": {},
                                     "RetryAttempts": 0}}

    @staticmethod
    async def _close(sock: LocalSocket) -> None:
        async with sock.lock:
            if not sock.closed:
                sock.closed = True
                await sock.send({"type": "websocket.close", "code": 1000})

    async def _clock(self, scope, receive, send):
        from chalicelib import clock
        body = await self._read_body(receive, 1024)
        if scope["method"].upper() == "POST":
            try:
                clock.advance(int(json.loads(body or b"{}").get("advance_ms", 0)))
            except (ValueError, TypeError, AttributeError):
                return await respond(send, 400, {"message": "send {\"advance_ms\": N >= 0}"})
        return await respond(send, 200, {"now_ms": clock.now_ms()})


def _running_loop():
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _management_error(client, operation: str, status: int, code: str, message: str | None = None):
    """The botocore error the Management API's HTTP answer would have become."""
    return client.exceptions.from_code(code)(
        {"Error": {"Code": code, "Message": message or ""},
         "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}}}, operation)


def new_connection_id() -> str:
    """API Gateway-style connection ids (`L0SM9cOFvHcCIhw=`): 11 random bytes, base64."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def scope_header(scope, name: str) -> str | None:
    wanted = name.lower().encode()
    for raw_name, raw_value in scope.get("headers", []):
        if raw_name.lower() == wanted:
            return raw_value.decode("latin-1")
    return None


async def respond(send, status: int, body, extra_headers=()):
    payload = b"" if body is None else json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode()), *extra_headers]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
