"""CommHub `POST /mcp`: the Model Context Protocol over Streamable HTTP, answering in JSON
(protocol 2025-06-18; 2025-03-26 accepted). Every tool is a CommHub HTTP route's work
through the same services, rendered with the same views.

The transport, as the specification says and Lambda allows:
- a POST carries one JSON-RPC message (or, for 2025-03-26 clients, a batch); requests are
  answered with `application/json`; a POST of only notifications or responses gets 202;
- no stream is ever held open: GET /mcp is 405 (the fallback route), which tells clients
  this server offers no server-initiated stream;
- `initialize` opens a session: its answer carries `Mcp-Session-Id`, which every later
  request must send (400 without it; 404 when unknown or expired, so the client
  initializes again); DELETE /mcp with it ends the session;
- `MCP-Protocol-Version` on later requests must be a version we speak (400 otherwise);
- the caller authenticates as on every CommHub route (the network token as `Bearer` or
  `?token=`): without one it is a 401 in CommHub's error shape before any JSON-RPC is read;
- a browser's `Origin` must be this host's (DNS rebinding), else 403.

Tool errors (no such task, a move the task cannot make) are results with `isError: true`,
as the specification asks; malformed requests and arguments are JSON-RPC errors.
"""
from __future__ import annotations

import json

from chalice import Response

from chalicelib.api.commhub import router
from chalicelib.api.inputs import decode
from chalicelib.config import VERSION
from chalicelib.errors import DomainError, Forbidden, NotFound, ValidationFailed

VERSIONS = ("2025-06-18", "2025-03-26")
SESSION_HEADER = "Mcp-Session-Id"
PARSE_ERROR, INVALID_REQUEST, NO_METHOD, INVALID_PARAMS = -32700, -32600, -32601, -32602
MAX_BATCH = 50


# --------------------------------------------------------------------------- JSON-RPC


class RpcError(Exception):
    def __init__(self, code: int, message: str, status: int = 200, data=None):
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data


def _error(message_id, error: RpcError) -> dict:
    body = {"code": error.code, "message": error.message}
    if error.data is not None:
        body["data"] = error.data
    return {"jsonrpc": "2.0", "id": message_id, "error": body}


def _answer(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(body, ensure_ascii=False, default=str) if body is not None
                    else "", status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def _check_origin(req) -> None:
    origin = req.headers.get("origin")
    if origin and origin.split("://", 1)[-1].rstrip("/") != (req.headers.get("host") or ""):
        raise Forbidden("this Origin may not call /mcp")


def _call_tool(principal, params: dict) -> dict:
    from chalicelib.api.commhub.mcp_tools import TOOLS
    name, arguments = params.get("name"), params.get("arguments") or {}
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        raise RpcError(INVALID_PARAMS, f"Unknown tool: {str(name)[:80]}")
    if not isinstance(arguments, dict):
        raise RpcError(INVALID_PARAMS, "'arguments' must be an object")
    try:
        args = decode(tool.model, query={}, body=arguments)
    except ValidationFailed as error:
        raise RpcError(INVALID_PARAMS, f"Invalid arguments for {name}: {error.message}") from None
    try:
        result = tool.run(principal, args)
    except DomainError as error:
        return {"content": [{"type": "text", "text": error.message}], "isError": True,
                "structuredContent": {"error": error.code, "message": error.message}}
    return {"content": [{"type": "text", "text": json.dumps(result, ensure_ascii=False,
                                                            default=str)}],
            "structuredContent": result, "isError": False}


def _handle(principal, message: dict, state: dict):
    """The response to one request (None for a notification or a response)."""
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _error(message.get("id") if isinstance(message, dict) else None,
                      RpcError(INVALID_REQUEST, "not a JSON-RPC 2.0 message"))
    method, message_id = message.get("method"), message.get("id")
    if method is None or "id" not in message:
        return None  # a notification (notifications/initialized, cancelled) or a response
    params = message.get("params") or {}
    try:
        if not isinstance(method, str) or not isinstance(params, dict):
            raise RpcError(INVALID_REQUEST, "'method' must be a string and 'params' an object")
        if method == "initialize":
            result = _initialize(principal, params, state)
        elif method == "ping":
            result = {}
        elif method == "tools/list":
            from chalicelib.api.commhub.mcp_tools import tool_list
            result = {"tools": tool_list()}
        elif method == "tools/call":
            result = _call_tool(principal, params)
        elif method in ("resources/list", "prompts/list"):
            result = {method.split("/")[0]: []}
        else:
            raise RpcError(NO_METHOD, f"Method not found: {method[:80]}")
    except RpcError as error:
        return _error(message_id, error)
    return {"jsonrpc": "2.0", "id": message_id, "result": result}


def _initialize(principal, params: dict, state: dict) -> dict:
    asked = params.get("protocolVersion")
    version = asked if asked in VERSIONS else VERSIONS[0]
    client = params.get("clientInfo") if isinstance(params.get("clientInfo"), dict) else {}
    from chalicelib.services import mcp_sessions
    state["session"] = mcp_sessions.open_session(principal, version, str(client.get("name") or ""))
    return {"protocolVersion": version, "capabilities": {"tools": {"listChanged": False}},
            "serverInfo": {"name": "switchboard-commhub", "title": "Switchboard (CommHub)",
                           "version": VERSION},
            "instructions": "Agents of one network: report_status first with your alias, "
                            "then get_inbox for work; send_task and send_message reach "
                            "other agents by alias."}


@router.route("/mcp", methods=["POST"])
def mcp(req):
    _check_origin(req)
    try:
        payload = json.loads(req.raw_body or b"")
    except (ValueError, RecursionError):
        return _answer(_error(None, RpcError(PARSE_ERROR, "Parse error")), 400)
    batch = isinstance(payload, list)
    messages = payload if batch else [payload]
    if not messages or len(messages) > MAX_BATCH:
        return _answer(_error(None, RpcError(INVALID_REQUEST, "an empty or oversized batch")), 400)
    initializing = any(isinstance(m, dict) and m.get("method") == "initialize" for m in messages)
    version = req.headers.get("mcp-protocol-version")
    if version and version not in VERSIONS and not initializing:
        return _answer(_error(None, RpcError(INVALID_REQUEST, f"unsupported MCP-Protocol-Version "
                                             f"{version[:40]!r}; this server speaks "
                                             f"{', '.join(VERSIONS)}")), 400)
    state: dict = {}
    if not initializing:
        session_id = req.headers.get(SESSION_HEADER.lower())
        if not session_id:
            return _answer(_error(None, RpcError(INVALID_REQUEST, f"missing {SESSION_HEADER}: "
                                                 "initialize first")), 400)
        from chalicelib.services import mcp_sessions
        if mcp_sessions.find(req.principal, session_id) is None:
            return _answer(_error(None, RpcError(INVALID_REQUEST, "unknown or expired session: "
                                                 "initialize again")), 404)
    answers = [a for a in (_handle(req.principal, m, state) for m in messages) if a is not None]
    headers = {SESSION_HEADER: state["session"]} if state.get("session") else {}
    if not answers:
        return _answer(None, 202, headers)
    return _answer(answers if batch else answers[0], 200, headers)


@router.route("/mcp", methods=["DELETE"])
def end_session(req):
    from chalicelib.services import mcp_sessions
    session = mcp_sessions.find(req.principal, req.headers.get(SESSION_HEADER.lower()) or "")
    if session is None:
        raise NotFound("unknown or expired session")
    mcp_sessions.close(session)
    return Response(body="", status_code=204)

