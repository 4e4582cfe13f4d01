"""SkyCetus /api/v1/message/*: translation only.

`transport` is `dynamodb` (SkyCetus said `redis`, or `sqlite` after falling back): one
durable store serves every delivery. `receive` with `blocking` is a long-poll that returns
as soon as a message arrives, bounded by `timeout` (default 5 s) and kept under API
Gateway's 29 s.
"""
import time

from chalicelib.api.skycetus import router
from chalicelib.clock import iso
from chalicelib.errors import ValidationFailed, require
from chalicelib.services import messaging

TRANSPORT = "dynamodb"
MAX_BLOCK_S = 25.0


def message_view(message) -> dict:
    return {"id": message.msg_id, "message_id": message.msg_id, "from_node": message.sender,
            "to_node": message.recipient, "content": message.content, "type": message.type,
            "require_ack": bool(message.require_ack), "timestamp": iso(message.created_at),
            "delivery_count": int(message.deliveries or 0) or None}


def _flag(value, field: str) -> bool:
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no", ""):
        return False
    raise ValidationFailed(field, f"'{field}' must be true or false")


@router.route("/api/v1/message/send", methods=["POST"])
def send(req):
    message, _ = messaging.send(req.principal.network_id, account_id=req.principal.account_id,
                                sender=require(req.arg("from_node"), "from_node"),
                                recipient=require(req.arg("to_node"), "to_node"),
                                content=require(req.arg("content"), "content"),
                                type=req.arg("type") or "text",
                                require_ack=_flag(req.arg("require_ack"), "require_ack"),
                                source="skycetus", idempotency_key_value=req.idempotency_key())
    return {"success": True, "message_id": message.msg_id, "event_id": message.event_id,
            "transport": TRANSPORT}


@router.route("/api/v1/message/receive", methods=["POST"])
def receive(req):
    blocking = _flag(req.arg("blocking"), "blocking")
    timeout = req.arg("timeout")
    try:
        timeout_s = 5.0 if timeout is None else float(timeout)
    except (TypeError, ValueError):
        raise ValidationFailed("timeout", "'timeout' must be a number of seconds") from None
    if timeout_s < 0:
        raise ValidationFailed("timeout", "'timeout' must not be negative")
    wait_s = 0.0
    if blocking:
        wait_s = max(0.0, req.deadline(min(timeout_s, MAX_BLOCK_S)) - time.monotonic())
    found = messaging.receive(req.principal.network_id, require(req.arg("node_id"), "node_id"),
                              count=req.int_arg("count", 10, minimum=1,
                                                maximum=messaging.MAX_RECEIVE),
                              wait_s=wait_s)
    return {"success": True, "count": len(found), "messages": [message_view(m) for m in found],
            "transport": TRANSPORT}


@router.route("/api/v1/message/broadcast", methods=["POST"])
def broadcast(req):
    event, receivers = messaging.broadcast(
        req.principal.network_id, sender=require(req.arg("from_node"), "from_node"),
        content=require(req.arg("content"), "content"), type=req.arg("type") or "broadcast",
        source="skycetus")
    return {"success": True, "receivers": receivers, "event_id": event.event_id,
            "transport": TRANSPORT}


@router.route("/api/v1/message/ack", methods=["POST"])
def ack(req):
    """One `message_id`, or (our extension) a list of them in `message_ids`."""
    node_id = require(req.arg("node_id"), "node_id")
    many = req.arg("message_ids")
    if many is None:
        first = messaging.ack(req.principal.network_id, node_id,
                              require(req.arg("message_id"), "message_id"))
        return {"success": True, "already_acked": not first}
    if not isinstance(many, list) or not many or len(many) > messaging.MAX_RECEIVE or \
            not all(isinstance(m, str) and m for m in many):
        raise ValidationFailed("message_ids", "'message_ids' must list 1-"
                                              f"{messaging.MAX_RECEIVE} message ids")
    acked = [m for m in many if messaging.ack(req.principal.network_id, node_id, m)]
    return {"success": True, "acked": acked,
            "already_acked": [m for m in many if m not in set(acked)]}


@router.route("/api/v1/message/history")
def history(req):
    found, cursor = messaging.inbox_history(
        req.principal.network_id, require(req.arg("node_id"), "node_id"),
        limit=req.int_arg("count", 50, minimum=1, maximum=500), cursor=req.arg("cursor"))
    return {"success": True, "count": len(found), "messages": [message_view(m) for m in found],
            "next_cursor": cursor, "transport": TRANSPORT}
