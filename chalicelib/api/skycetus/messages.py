"""SkyCetus /api/v1/message/*: translation only.

`transport` is `dynamodb` (SkyCetus said `redis`, or `sqlite` after falling back): one
durable store serves every delivery. `receive` with `blocking` is a long-poll that returns
as soon as a message arrives, bounded by `timeout` (default 5 s) and kept under API
Gateway's 29 s.
"""
import time
from typing import Annotated

from msgspec import Meta

from chalicelib.api.inputs import Content, Cursor, IdempotencyKey, Id, Input, Limit, Word
from chalicelib.api.skycetus import router
from chalicelib.clock import iso
from chalicelib.errors import require
from chalicelib.limits import RECEIVE_MAX
from chalicelib.services import messaging

TRANSPORT = "dynamodb"
MAX_BLOCK_S = 25.0


class Send(Input):
    from_node: Id
    to_node: Id
    content: Content
    type: Word | None = None
    require_ack: bool = False
    idempotency_key: IdempotencyKey | None = None


class Receive(Input):
    node_id: Id
    count: Annotated[int, Meta(ge=1, le=RECEIVE_MAX)] = 10
    blocking: bool = False
    timeout: Annotated[float, Meta(ge=0, le=3600)] = 5.0


class Broadcast(Input):
    from_node: Id
    content: Content
    type: Word | None = None


class Ack(Input):
    """One `message_id`, or (our extension) a list of them in `message_ids`."""
    node_id: Id
    message_id: Id | None = None
    message_ids: Annotated[list[Id], Meta(min_length=1, max_length=RECEIVE_MAX)] | None = None


class History(Input):
    node_id: Id
    count: Limit = 50
    cursor: Cursor | None = None


def message_view(message) -> dict:
    return {"id": message.msg_id, "message_id": message.msg_id, "from_node": message.sender,
            "to_node": message.recipient, "content": message.content, "type": message.type,
            "require_ack": bool(message.require_ack), "timestamp": iso(message.created_at),
            "delivery_count": int(message.deliveries or 0) or None}


@router.route("/api/v1/message/send", methods=["POST"], body=Send)
def send(req):
    body = req.body
    message, _ = messaging.send(req.principal.network_id, account_id=req.principal.account_id,
                                sender=body.from_node,
                                recipient=body.to_node, content=body.content,
                                type=body.type or "text", require_ack=body.require_ack,
                                source="skycetus", idempotency_key_value=req.idempotency_key())
    return {"success": True, "message_id": message.msg_id, "event_id": message.event_id,
            "transport": TRANSPORT}


@router.route("/api/v1/message/receive", methods=["POST"], body=Receive)
def receive(req):
    body = req.body
    wait_s = 0.0
    if body.blocking:
        wait_s = max(0.0, req.deadline(min(body.timeout, MAX_BLOCK_S)) - time.monotonic())
    found = messaging.receive(req.principal.network_id, body.node_id, count=body.count,
                              wait_s=wait_s)
    return {"success": True, "count": len(found), "messages": [message_view(m) for m in found],
            "transport": TRANSPORT}


@router.route("/api/v1/message/broadcast", methods=["POST"], body=Broadcast)
def broadcast(req):
    body = req.body
    event, receivers = messaging.broadcast(
        req.principal.network_id, sender=body.from_node, content=body.content,
        type=body.type or "broadcast", source="skycetus",
        account_id=req.principal.account_id, idempotency_key_value=req.idempotency_key())
    return {"success": True, "receivers": receivers, "event_id": event.event_id,
            "transport": TRANSPORT}


@router.route("/api/v1/message/ack", methods=["POST"], body=Ack)
def ack(req):
    body, network_id = req.body, req.principal.network_id
    if body.message_ids is None:
        first = messaging.ack(network_id, body.node_id, require(body.message_id, "message_id"))
        return {"success": True, "already_acked": not first}
    acked = [m for m in body.message_ids if messaging.ack(network_id, body.node_id, m)]
    return {"success": True, "acked": acked,
            "already_acked": [m for m in body.message_ids if m not in set(acked)]}


@router.route("/api/v1/message/history", query=History)
def history(req):
    query = req.params
    found, cursor = messaging.inbox_history(req.principal.network_id, query.node_id,
                                            limit=query.count, cursor=query.cursor)
    return {"success": True, "count": len(found), "messages": [message_view(m) for m in found],
            "next_cursor": cursor, "transport": TRANSPORT}
