"""The API description (OpenAPI 3.1), generated from the route table (`routing.ROUTES`):
every route of every dialect, tagged `<dialect>/<family>` (and grouped by dialect in
`x-tagGroups`), with its credentials, path parameters, query parameters and request body
from the models it declares (api/inputs.py), and response schemas for the main bodies.

Credentials: every credential works on every authenticated route (one resolver); each
route lists its dialect's own first. Routes a spec documents as open list "none" first.
Responses: the main bodies' schemas (tasks, workers, agents, workflows, webhooks, messages,
files, CommHub tasks and sessions) where a route answers one; other successful answers are any
JSON; errors are each dialect's envelope.

Built once per instance, on the first request for it (never at cold start).
"""
from __future__ import annotations

import re
from functools import lru_cache

from chalicelib.config import VERSION

DIALECT_DOCS = {
    "platform": "The orchestration platform's REST API (FastAPI-style: `{\"detail\": ...}` "
                "errors, 422 `VAL_001` for invalid input).",
    "skycetus": "SkyCetus hub: nodes, tasks, messages and files (`X-Matrix-Secret`).",
    "gemmanet": "GemmaNet coordinator: status, nodes and synchronous calls.",
    "hub2d": "Hub2d: send, the SSE event stream and replies.",
    "commhub": "CommHub: accounts, networks, tasks, messages, the SSE stream and MCP.",
}
SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "A JWT access token, user or network token, API key or the "
                              "admin token"},
    "matrixSecret": {"type": "apiKey", "in": "header", "name": "X-Matrix-Secret",
                     "description": "A network's shared secret (SkyCetus)"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
               "description": "An API key"},
    "tokenQuery": {"type": "apiKey", "in": "query", "name": "token",
                   "description": "Any credential in the query string (SSE readers, CommHub)"},
}
SCHEME_ORDER = {"skycetus": ("matrixSecret", "bearer", "apiKey", "tokenQuery"),
                "commhub": ("bearer", "tokenQuery", "apiKey", "matrixSecret")}
DEFAULT_ORDER = ("bearer", "apiKey", "matrixSecret", "tokenQuery")
UPLOADS = {"/api/v1/file/upload", "/api/v1/files/upload"}
# GET routes whose success is not JSON: streams, files, exports, the exposition, the docs.
NOT_JSON = {"/events/{alias}", "/v1/events", "/metrics", "/docs", "/docs/{asset}",
            "/api/v1/file/download/{file_id}", "/api/v1/files/{file_id}/download",
            "/api/v1/exports/{format}"}
BODY_METHODS = ("POST", "PUT", "PATCH")
_SKIP = {"api", "v1"}


def _nullable(kind: str) -> dict:
    return {"type": [kind, "null"]}


TEXT, NUMBER, INTEGER, BOOLEAN = ({"type": "string"}, {"type": "number"}, {"type": "integer"},
                                  {"type": "boolean"})
STAMP = {"type": ["string", "null"], "format": "date-time"}
ANY = {}

# The main bodies, as the adapters render them (api/<dialect>/*.py views).
BODIES = {
    "Task": {"type": "object", "required": ["id", "title", "status", "priority"],
             "properties": {
                 "id": TEXT, "title": TEXT, "description": _nullable("string"),
                 "instructions": _nullable("string"), "status": TEXT, "priority": TEXT,
                 "agent_id": _nullable("string"), "worker_id": _nullable("string"),
                 "required_tools": {"type": "array", "items": TEXT}, "result": ANY,
                 "error": _nullable("string"), "attempts": _nullable("integer"),
                 "max_attempts": _nullable("integer"), "deadline": STAMP, "created_at": STAMP,
                 "updated_at": STAMP, "started_at": STAMP, "completed_at": STAMP,
                 "approval_id": _nullable("string"), "review_required": BOOLEAN}},
    "Worker": {"type": "object", "required": ["id", "name", "status"], "properties": {
        "id": TEXT, "name": TEXT, "hostname": _nullable("string"),
        "ip_address": _nullable("string"), "os_info": _nullable("string"),
        "cpu_cores": _nullable("number"), "memory_total_mb": _nullable("number"),
        "cpu_usage_percent": _nullable("number"), "memory_usage_percent": _nullable("number"),
        "disk_usage_percent": _nullable("number"), "status": {"enum": ["online", "offline"]},
        "is_approved": BOOLEAN, "group": _nullable("string"), "max_agents": NUMBER,
        "active_tasks": NUMBER, "capabilities": {"type": "array", "items": TEXT},
        "last_heartbeat": STAMP, "created_at": STAMP}},
    "Agent": {"type": "object", "required": ["id", "name", "status"], "properties": {
        "id": TEXT, "name": TEXT, "description": _nullable("string"), "role": _nullable("string"),
        "status": TEXT, "is_active": BOOLEAN, "worker_id": _nullable("string"),
        "llm_provider": _nullable("string"), "llm_model": _nullable("string"),
        "tasks_completed": INTEGER, "tasks_failed": INTEGER, "email": _nullable("string"),
        "tags": {"type": "array", "items": TEXT}, "created_at": STAMP, "updated_at": STAMP}},
    "Workflow": {"type": "object", "required": ["id", "name", "status"], "properties": {
        "id": TEXT, "name": TEXT, "description": _nullable("string"), "status": TEXT,
        "is_template": BOOLEAN, "run_count": INTEGER, "last_run_id": _nullable("string"),
        "created_at": STAMP, "updated_at": STAMP}},
    "Webhook": {"type": "object", "required": ["id", "name", "url"], "properties": {
        "id": TEXT, "name": TEXT, "url": TEXT, "events": {"type": "array", "items": TEXT},
        "description": _nullable("string"), "is_active": BOOLEAN, "secret": TEXT,
        "headers": {"type": "object"}, "retry_policy": {"type": "object"},
        "failure_count": INTEGER, "disabled_reason": _nullable("string"),
        "last_triggered_at": STAMP, "last_success_at": STAMP, "created_at": STAMP,
        "updated_at": STAMP}},
    "Message": {"type": "object", "required": ["id", "body"], "properties": {
        "id": TEXT, "sender_agent_id": _nullable("string"),
        "recipient_agent_id": _nullable("string"), "channel": TEXT,
        "subject": _nullable("string"), "body": TEXT, "message_type": _nullable("string"),
        "is_read": BOOLEAN, "read_at": STAMP, "created_at": STAMP}},
    "File": {"type": "object", "required": ["id", "filename"], "properties": {
        "id": TEXT, "filename": TEXT, "content_type": TEXT, "size": _nullable("integer"),
        "sha256": _nullable("string"), "task_id": _nullable("string"), "status": TEXT,
        "metadata": {"type": "object"}, "created_at": STAMP, "updated_at": STAMP}},
    "CommHubTask": {"type": "object", "required": ["task_id", "title", "status"], "properties": {
        "task_id": TEXT, "title": TEXT, "content": _nullable("string"), "status": TEXT,
        "priority": TEXT, "from_name": _nullable("string"), "to_name": _nullable("string"),
        "result": ANY, "error": _nullable("string"), "created_at": _nullable("string"),
        "updated_at": _nullable("string")}},
    "JsonRpcAnswer": {"oneOf": [
        {"type": "object", "required": ["jsonrpc"], "properties": {
            "jsonrpc": {"const": "2.0"}, "id": {"type": ["string", "integer", "null"]},
            "result": {"type": "object"}, "error": {
                "type": "object", "required": ["code", "message"],
                "properties": {"code": INTEGER, "message": TEXT}}}},
        {"type": "array", "items": {"type": "object"}}]},
    "CommHubSession": {"type": "object", "required": ["alias", "status"], "properties": {
        "resume_id": TEXT, "alias": TEXT, "status": {"enum": ["idle", "working", "offline",
                                                              "busy"]},
        "agent": _nullable("string"), "model": _nullable("string"), "task": _nullable("string"),
        "progress": ANY, "last_seen_at": _nullable("string")}},
}


def _list_of(name: str, key: str | None = None) -> dict:
    items = {"type": "array", "items": {"$ref": f"#/components/schemas/{name}"}}
    if key is None:
        return items
    return {"type": "object", "required": [key], "properties": {key: items}}


def _one(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


# Which routes answer a main body: (method, path) -> schema.
RESPONSES = {
    ("GET", "/api/v1/tasks"): _list_of("Task"),
    ("POST", "/api/v1/tasks"): _one("Task"),
    ("GET", "/api/v1/tasks/{task_id}"): _one("Task"),
    ("PATCH", "/api/v1/tasks/{task_id}"): _one("Task"),
    ("POST", "/api/v1/tasks/{task_id}/cancel"): _one("Task"),
    ("POST", "/api/v1/workers/register"): _one("Worker"),
    ("GET", "/api/v1/admin/workers"): _list_of("Worker"),
    ("PATCH", "/api/v1/admin/workers/{worker_id}/approve"): _one("Worker"),
    ("GET", "/api/v1/workers/{worker_id}/tasks"): _list_of("Task"),
    ("GET", "/api/v1/agents"): _list_of("Agent", "items"),
    ("POST", "/api/v1/agents"): _one("Agent"),
    ("GET", "/api/v1/agents/{agent_id}"): _one("Agent"),
    ("PATCH", "/api/v1/agents/{agent_id}"): _one("Agent"),
    ("GET", "/api/v1/workflows"): _list_of("Workflow", "items"),
    ("GET", "/api/v1/workflows/{workflow_id}"): _one("Workflow"),
    ("GET", "/api/v1/webhooks"): _list_of("Webhook", "items"),
    ("GET", "/api/v1/webhooks/{webhook_id}"): _one("Webhook"),
    ("PUT", "/api/v1/webhooks/{webhook_id}"): _one("Webhook"),
    ("GET", "/api/v1/messages"): _list_of("Message"),
    ("POST", "/api/v1/messages/send"): _one("Message"),
    ("GET", "/api/v1/files"): _list_of("File"),
    ("GET", "/api/v1/files/{file_id}"): _one("File"),
    ("GET", "/api/tasks"): _list_of("CommHubTask", "tasks"),
    ("GET", "/api/status"): _list_of("CommHubSession", "sessions"),
}
ERRORS = {
    "platform": {"type": "object", "properties": {"detail": ANY, "error_code": TEXT,
                                                  "message": TEXT, "details": {"type": "object"}}},
    "skycetus": {"type": "object", "required": ["success", "error"],
                 "properties": {"success": {"const": False}, "error": TEXT}},
    "hub2d": {"type": "object", "required": ["error"], "properties": {"error": TEXT}},
    "commhub": {"type": "object", "required": ["error", "message"],
                "properties": {"error": TEXT, "message": TEXT}},
}
ERRORS["gemmanet"] = ERRORS["platform"]


def family(path: str) -> str:
    parts = [p for p in path.strip("/").split("/") if p and not p.startswith("{")]
    while parts and parts[0] in _SKIP:
        parts = parts[1:]
    if not parts:
        return "root"
    if parts[0] == "admin" and len(parts) > 1:
        return f"admin {parts[1]}"
    return re.sub(r"\.json$", "", parts[0])


def operation_id(spec) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", spec.path.replace("{", "by_").strip("/"))
    return f"{spec.dialect}_{spec.method.lower()}_{words or 'root'}".strip("_")


@lru_cache(maxsize=1)
def document() -> dict:
    from chalicelib.api.inputs import schema_components
    from chalicelib.api.routing import OPEN, PUBLIC, ROUTES

    models = {m for spec in ROUTES for m in (spec.body, spec.query) if m is not None}
    _, components = schema_components(sorted(models, key=lambda m: m.__name__))
    for component in components.values():
        _drop_unreachable_defaults(component)
    schemas = {**components, **BODIES, **{f"{d.capitalize()}Error": s for d, s in ERRORS.items()}}
    paths: dict[str, dict] = {}
    tags: dict[str, str] = {}
    for spec in ROUTES:
        tag = f"{spec.dialect}/{family(spec.path)}"
        tags[tag] = spec.dialect
        operation = {"tags": [tag], "operationId": operation_id(spec),
                     "summary": f"{spec.method} {spec.path}",
                     "parameters": _parameters(spec, components),
                     "responses": _responses(spec)}
        if spec.auth == PUBLIC:
            operation["security"] = []
        else:
            order = [{name: []} for name in SCHEME_ORDER.get(spec.dialect, DEFAULT_ORDER)]
            operation["security"] = ([{}] + order) if spec.auth == OPEN else order
        body = _request_body(spec, components)
        if body:
            operation["requestBody"] = body
        if not operation["parameters"]:
            del operation["parameters"]
        paths.setdefault(spec.path, {})[spec.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard", "version": VERSION,
                 "description": "One hub, five APIs over one data model. Generated from the "
                                "route table."},
        "servers": [{"url": "/"}],
        "tags": [{"name": tag, "description": DIALECT_DOCS[dialect]}
                 for tag, dialect in sorted(tags.items())],
        "x-tagGroups": [{"name": dialect, "tags": sorted(t for t, d in tags.items()
                                                         if d == dialect)}
                        for dialect in DIALECT_DOCS if dialect in tags.values()],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SCHEMES},
    }


def _drop_unreachable_defaults(schema: dict) -> None:
    """A field whose default its own schema refuses (`name: Name = ""`: absent means
    "not given", and the service says what is missing) documents no default."""
    for prop in schema.get("properties", {}).values():
        default = prop.get("default")
        if isinstance(default, str) and len(default) < prop.get("minLength", 0):
            del prop["default"]


def _component(model, components: dict) -> str:
    """The model's name among the components (qualified by module where names clash)."""
    return model.__name__ if model.__name__ in components else \
        f"{model.__module__}.{model.__qualname__}"


def _parameters(spec, components: dict) -> list[dict]:
    from chalicelib.api.inputs import ID_MAX, ID_PATTERN
    found = [{"name": name, "in": "path", "required": True,
              "schema": {"type": "string", "minLength": 1, "maxLength": ID_MAX,
                         "pattern": ID_PATTERN}} for name in spec.path_params]
    query_models = [spec.query] if spec.query is not None else []
    if spec.body is not None and spec.method not in BODY_METHODS:
        query_models.append(spec.body)  # a GET's "body" fields come in the query
    seen = set()
    for model in query_models:
        schema = components[_component(model, components)]
        required = set(schema.get("required", ()))
        for name, prop in schema.get("properties", {}).items():
            if name in seen or name in spec.path_params:
                continue
            seen.add(name)
            found.append({"name": name, "in": "query", "required": name in required,
                          "schema": prop})
    return found


def _request_body(spec, components: dict) -> dict | None:
    if spec.path in UPLOADS and spec.method == "POST":
        return {"required": True, "content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["file"],
            "properties": {"file": {"type": "string", "contentMediaType":
                                    "application/octet-stream"},
                           "metadata": {"type": "string", "description": "a JSON object"}}}}}}
    if spec.body is None or spec.method not in BODY_METHODS:
        return None
    name = _component(spec.body, components)
    return {"required": bool(components[name].get("required")),
            "content": {"application/json": {"schema": _one(name)}}}


def _responses(spec) -> dict:
    body = RESPONSES.get((spec.method, spec.path), ANY)
    error = _one(f"{spec.dialect.capitalize()}Error")
    if spec.path == "/mcp":  # JSON-RPC answers, and JSON-RPC errors from the transport
        body, error = _one("JsonRpcAnswer"), {"anyOf": [error, _one("JsonRpcAnswer")]}
    responses = {"2XX": {"description": "Success",
                         "content": {"application/json": {"schema": body}}},
                 "4XX": {"description": f"Refused, in {spec.dialect}'s error shape",
                         "content": {"application/json": {"schema": error}}}}
    if spec.method == "GET" and spec.path in NOT_JSON:
        responses["2XX"] = {"description": "Success: the file, stream or page itself"}
    if spec.method == "DELETE" or spec.path == "/mcp":
        responses["204" if spec.method == "DELETE" else "202"] = {"description": "No content"}
    return responses
