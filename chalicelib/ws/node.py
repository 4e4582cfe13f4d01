"""The GemmaNet node protocol on `/ws/node`.

Envelopes `{msg_id, msg_type, payload, sender_id, timestamp}`; msg_type in any case, ISO
timestamps with or without a zone. NODE_REGISTER must come first; it may carry an
`api_key` (the newer SDK) that then decides the node's network, and a `node_id` (the
older SDK) — otherwise the id is derived from the account and the node's name, so it is
stable across reconnects. The hub answers NODE_REGISTERED, then CREDIT_UPDATE with the
node's balance, then pushes again all the work the node holds (services/handoff.py). HEARTBEAT carries load;
TASK_RESULT completes (or fails) the task; bad frames get ERROR with a message.
"""
from __future__ import annotations

import uuid

from chalicelib import logs
from chalicelib.auth.principal import Principal
from chalicelib.clock import parse_time
from chalicelib.errors import DomainError, Unauthorized, ValidationFailed
from chalicelib.push.envelopes import node_envelope
from chalicelib.services import connections, identity, ledger, nodes, tasks

log = logs.get("ws.node")
NODE_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://switchboard.invalid/gemmanet/node")
DEFAULT_CONCURRENCY = 4  # the GemmaNet SDK runs handlers concurrently
SILENTLY_ACCEPTED = {"TASK_CHUNK", "BENCHMARK_RESULT"}  # no streaming through API Gateway REST


def reply(record, msg_type: str, payload: dict) -> None:
    connections.deliver(record.connection_id, node_envelope(msg_type, payload))


def reject(record, message: str, code: str = "bad_request") -> None:
    reply(record, "ERROR", {"code": code, "message": message, "error": message})


def _connection_principal(record) -> Principal:
    return Principal(network_id=record.network_id, kind=record.principal_kind or "anonymous",
                     account_id=record.account_id or "anonymous", user_id=record.user_id)


def register(record, payload: dict) -> None:
    if payload.get("api_key"):
        try:
            principal = identity.resolve_secret(str(payload["api_key"]))
        except Unauthorized:
            reject(record, "Invalid API key", code="auth_failed")
            connections.disconnect(record.connection_id)
            return
        if principal.network_id != record.network_id or principal.account_id != record.account_id:
            record = connections.rebind(record, principal)
    else:
        principal = _connection_principal(record)
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationFailed("payload.name", "NODE_REGISTER needs a 'name'")
    node_id = payload.get("node_id") or str(uuid.uuid5(NODE_ID_NAMESPACE,
                                                       f"{principal.account_id}/{name}"))
    model_info = payload.get("model_info") if isinstance(payload.get("model_info"), dict) else {}
    node = nodes.register(principal, str(node_id), name=name.strip(), kind="gemmanet",
                          capabilities=payload.get("capabilities") or [],
                          languages=payload.get("languages"),
                          max_concurrent=payload.get("max_concurrent") or DEFAULT_CONCURRENCY,
                          metadata={"model_info": model_info} if model_info else None,
                          connection_id=record.connection_id)
    connections.update(record, node_id=node.node_id)
    reply(record, "NODE_REGISTERED", {"node_id": node.node_id, "name": node.name})
    account = ledger.get_account(node.network_id, node.account_id)
    reply(record, "CREDIT_UPDATE", {"node_id": node.node_id, "balance": int(account.balance),
                                    "change": 0, "reason": "registered"})
    tasks.catch_up(node.network_id, node)  # what it holds, again: it may have lost it
    tasks.assign_pending(node.network_id)


def heartbeat(record, payload: dict) -> None:
    cpu = payload.get("cpu_percent")
    load = None
    if isinstance(cpu, (int, float)) and not isinstance(cpu, bool):
        load = min(max(float(cpu), 0.0), 100.0) / 100
    nodes.heartbeat(record.network_id, record.node_id, load=load,
                    metadata={"reported_active_tasks": payload.get("active_tasks")})
    tasks.renew_leases(record.network_id, record.node_id)


def task_result(record, payload: dict) -> None:
    task_id = payload.get("task_id")
    if not task_id:
        raise ValidationFailed("payload.task_id", "TASK_RESULT needs a 'task_id'")
    output = payload.get("result")
    elapsed = payload.get("processing_time_ms")
    actor = f"node:{record.node_id}"
    if str(payload.get("status", "")).lower() == "completed":
        tasks.complete(record.network_id, str(task_id), node_id=record.node_id, actor=actor,
                       result={"output": output, "processing_time_ms": elapsed,
                               "usage": payload.get("usage")})
        tasks.push_next(record.network_id, record.node_id)  # it has room: its next task
    else:
        requeued = tasks.fail(record.network_id, str(task_id), node_id=record.node_id,
                              actor=actor, error=str(output) if output is not None
                              else "the node reported a failure")
        tasks.push_elsewhere(requeued, away_from=record.node_id)  # another node, at once


HANDLERS = {"HEARTBEAT": heartbeat, "TASK_RESULT": task_result}


def handle(record, frame: dict) -> None:
    msg_type = str(frame.get("msg_type") or "").upper()
    payload = frame.get("payload") if isinstance(frame.get("payload"), dict) else {}
    try:
        if frame.get("timestamp") is not None:
            parse_time(frame["timestamp"])
    except ValueError:
        return reject(record, f"unreadable timestamp: {frame['timestamp']!r}")
    try:
        if msg_type == "NODE_REGISTER":
            return register(record, payload)
        if msg_type in SILENTLY_ACCEPTED:
            return None
        handler = HANDLERS.get(msg_type)
        if handler is None:
            return reject(record, f"unsupported msg_type: {frame.get('msg_type')!r}")
        if not record.node_id:
            return reject(record, "NODE_REGISTER must come first", code="not_registered")
        handler(record, payload)
    except DomainError as error:
        reject(record, error.message, code=error.code)
