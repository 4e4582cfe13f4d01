"""API Gateway WebSocket handlers: `$connect`, `$default`, `$disconnect`.

Which protocol a socket speaks is chosen at connect by `?protocol=node|events`, or by
the path the local gateway (or a custom-domain mapping) reports: `/ws/node` is the
GemmaNet node protocol, `/ws` the platform's event subscriptions. The socket is
authenticated at connect; anonymous sockets only where SWITCHBOARD_OPEN_DIALECTS allows.
Frames are then dispatched by shape: GemmaNet envelopes carry `msg_type`, platform
frames carry `type`.
"""
from __future__ import annotations

import json

from chalice.app import CaseInsensitiveMapping

from chalicelib import logs
from chalicelib.auth.principal import anonymous
from chalicelib.auth.resolver import presented_secret
from chalicelib.config import settings
from chalicelib.errors import DomainError, Forbidden, Unauthorized
from chalicelib.services import connections

log = logs.get("ws")
DIALECT_OF = {"node": "gemmanet", "events": "platform"}


def protocol_of(raw_event: dict) -> str:
    query = raw_event.get("queryStringParameters") or {}
    if query.get("protocol") in DIALECT_OF:
        return query["protocol"]
    path = (raw_event.get("requestContext") or {}).get("path") or ""
    return "node" if path.rstrip("/").endswith("/node") else "events"


def connect(event) -> dict:
    raw = event.to_dict()
    protocol = protocol_of(raw)
    headers = CaseInsensitiveMapping(raw.get("headers") or {})
    secret = presented_secret(headers, raw.get("queryStringParameters") or {})
    from chalicelib.services.people import ip_rules
    context = raw.get("requestContext") or {}
    source_ip = (context.get("identity") or {}).get("sourceIp")
    try:
        # (refused by the deployment's rules: not audited, as HTTP requests it refuses)
        ip_rules.check(settings().default_network_id, source_ip)
    except Forbidden as error:
        return {"statusCode": 403, "body": error.message}
    principal = None
    try:
        if secret:
            from chalicelib.services import identity
            principal = identity.resolve_secret(secret)
        elif settings().is_open(DIALECT_OF[protocol]):
            principal = anonymous(settings().default_network_id)
        else:
            raise Unauthorized("missing credentials")
        ip_rules.check(principal.network_id, source_ip)
    except DomainError as error:
        answer = {"statusCode": 403 if isinstance(error, Forbidden) else 401,
                  "body": error.message}
    else:
        connections.open_connection(event.connection_id, protocol, principal)
        log.info("connected", extra={"connection_id": event.connection_id, "protocol": protocol,
                                     "network_id": principal.network_id})
        answer = {"statusCode": 200}
    _audit_connect(event.connection_id, protocol, principal, answer["statusCode"], source_ip,
                   context.get("requestId"))
    return answer


def _audit_connect(connection_id: str, protocol: str, principal, status: int, source_ip,
                   request_id) -> None:
    """A socket opening is a state-changing request of its dialect: one audit record, as
    for HTTP (its frames are not: a node's heartbeats would flood the trail)."""
    from chalicelib.services import audit
    try:
        actor_id, actor_type, credential = audit.actor_of(principal)
        audit.append(principal.network_id if credential else settings().default_network_id,
                     action="websocket.connect", outcome=audit.outcome_of(status),
                     status_code=status, actor_type=actor_type, actor_id=actor_id,
                     credential=credential, target_type="connection",
                     target_id=connection_id, source_ip=source_ip,
                     dialect=DIALECT_OF[protocol], method="GET",
                     route="/ws/node" if protocol == "node" else "/ws",
                     request_id=request_id)
    except Exception:
        log.exception("audit record not written", extra={"route": "$connect"})


def message(event) -> dict:
    from chalicelib.ws import events as events_protocol, node as node_protocol
    record = connections.get(event.connection_id)
    if record is None:  # expired or never registered: nothing to act for
        return {"statusCode": 410}
    try:
        frame = json.loads(event.body)
    except (TypeError, ValueError):
        frame = None
    if not isinstance(frame, dict):
        handler = node_protocol if record.protocol == "node" else events_protocol
        handler.reject(record, "frames must be JSON objects")
    elif "msg_type" in frame:
        node_protocol.handle(record, frame)
    else:
        events_protocol.handle(record, frame)
    return {"statusCode": 200}


def disconnect(event) -> dict:
    connections.close(event.connection_id)
    return {"statusCode": 200}
