"""Hub2d /v1/send, /v1/events (SSE), /v1/replies, /v1/admin/replies: translation only.

Hub2d answers `{"ok": true, ...}` and `{"error": ...}`; its routes are open where
SWITCHBOARD_OPEN_DIALECTS lists hub2d. Senders and recipients are agent names, which are
node ids: a `/v1/send` to a node lands in its SkyCetus inbox and CommHub stream too.
"""
from typing import Annotated, Literal

from msgspec import Meta

from chalicelib.api.hub2d import router
from chalicelib.api.inputs import ID_MAX, Content, IdempotencyKey, Id, Input, Name, Text, field
from chalicelib.api.routing import OPEN
from chalicelib.api.streaming import StreamQuery, sse_response
from chalicelib.clock import sql_time
from chalicelib.push import sse
from chalicelib.services import messaging


class Send(Input):
    """To one agent (`to`), or to everyone in the room when `to` is null, empty or absent."""
    sender: Id = field(name="from")
    content: Content
    to: Annotated[str, Meta(max_length=ID_MAX, pattern=r"^[^#/\\\x00-\x1f\x7f]*$")] | None = None
    room_id: Name | None = None
    idempotency_key: IdempotencyKey | None = None


class EventsQuery(StreamQuery):
    to: Id | None = None


class Reply(Input):
    """`truncated` may be a boolean or 0/1. An error comes as `error`, or as `error_code`
    and `error_detail` (the nexus channel plugin); `latency_ms` is what the client measured."""
    event_id: Id
    text: Content
    status: Literal["ok", "error"]
    error: Text | None = None
    error_code: Name | None = None
    error_detail: Text | None = None
    latency_ms: Annotated[int, Meta(ge=0, le=10**10)] | None = None
    truncated: bool | None = None
    orig_len: Annotated[int, Meta(ge=0, le=10**12)] | None = None


class RepliesQuery(Input):
    event_id: Id | None = None


@router.route("/v1/send", methods=["POST"], auth=OPEN, body=Send)
def send(req):
    body = req.body
    network_id, sender = req.principal.network_id, body.sender
    room = body.room_id or "general"
    content = body.content
    if body.to:
        message, _ = messaging.send(network_id, account_id=req.principal.account_id,
                                    sender=sender, recipient=body.to,
                                    content=content, channel=room, source="hub2d",
                                    idempotency_key_value=req.idempotency_key())
        return {"ok": True, "event_id": message.event_id, "msg_id": message.msg_id}
    event, receivers = messaging.broadcast(network_id, sender=sender, content=content,
                                           channel=room, source="hub2d", type="text",
                                           account_id=req.principal.account_id,
                                           idempotency_key_value=req.idempotency_key())
    return {"ok": True, "event_id": event.event_id, "msg_id": event.data["message_id"],
            "receivers": receivers}


def event_frame(event):
    data = event.data
    return sse.frame({"event_id": event.event_id, "room_id": data.get("room_id") or "general",
                      "from": data.get("from"), "to": data.get("to"),
                      "content": data.get("content"), "ts_ms": data.get("ts_ms"),
                      "msg_id": data.get("message_id")}, event_id=event.event_id)


@router.route("/v1/events", auth=OPEN, query=EventsQuery)
def events(req):
    to = req.params.to
    client = to or f"anonymous@{req.context.get('identity', {}).get('sourceIp', '?')}"
    return sse_response(req, target=to, types=("message.new",), render=event_frame,
                        subscriber=f"hub2d:{client}")


@router.route("/v1/replies", methods=["POST"], auth=OPEN, body=Reply)
def post_reply(req):
    body = req.body
    record = messaging.reply(req.principal.network_id, event_id=body.event_id, text=body.text,
                             status=body.status, error=body.error, error_code=body.error_code,
                             error_detail=body.error_detail, client_latency_ms=body.latency_ms,
                             truncated=body.truncated, orig_len=body.orig_len, source="hub2d")
    return {"ok": True, "reply_id": record.reply_id, "event_id": record.event_id,
            "latency_ms": int(record.latency_ms)}


def _int_or_none(value) -> int | None:
    return None if value is None else int(value)


def reply_view(record) -> dict:
    return {"reply_id": record.reply_id, "event_id": record.event_id,
            "room_id": record.channel or "general", "text": record.text,
            "status": record.status, "latency_ms": int(record.latency_ms),
            "client_latency_ms": _int_or_none(record.client_latency_ms),
            "error": record.error, "error_code": record.error_code,
            "error_detail": record.error_detail, "truncated": int(record.truncated or 0),
            "orig_len": _int_or_none(record.orig_len),
            "ts_ms": int(record.created_at), "created_at": sql_time(record.created_at)}


@router.route("/v1/admin/replies", auth=OPEN, query=RepliesQuery)
def admin_replies(req):
    event_id = req.params.event_id
    found = messaging.replies(req.principal.network_id, event_id) if event_id else []
    return {"replies": [reply_view(r) for r in found]}
