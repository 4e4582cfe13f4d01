"""Hub2d /v1/send, /v1/events (SSE), /v1/replies, /v1/admin/replies: translation only.

Hub2d answers `{"ok": true, ...}` and `{"error": ...}`; its routes are open where
SWITCHBOARD_OPEN_DIALECTS lists hub2d. Senders and recipients are agent names, which are
node ids: a `/v1/send` to a node lands in its SkyCetus inbox and CommHub stream too.
"""
from chalicelib.api.hub2d import router
from chalicelib.api.routing import OPEN
from chalicelib.api.streaming import sse_response
from chalicelib.clock import now_ms, sql_time
from chalicelib.errors import require
from chalicelib.push import sse
from chalicelib.services import messaging


@router.route("/v1/send", methods=["POST"], auth=OPEN)
def send(req):
    body = req.json
    network_id, sender = req.principal.network_id, require(body.get("from"), "from")
    room = body.get("room_id") or "general"
    content = require(body.get("content"), "content")
    if body.get("to"):
        message, _ = messaging.send(network_id, account_id=req.principal.account_id,
                                    sender=sender, recipient=body["to"],
                                    content=content, channel=room, source="hub2d",
                                    idempotency_key_value=req.idempotency_key())
        return {"ok": True, "event_id": message.event_id, "msg_id": message.msg_id}
    event, receivers = messaging.broadcast(network_id, sender=sender, content=content,
                                           channel=room, source="hub2d", type="text")
    return {"ok": True, "event_id": event.event_id, "msg_id": event.data["message_id"],
            "receivers": receivers}


def event_frame(event):
    data = event.data
    return sse.frame({"event_id": event.event_id, "room_id": data.get("room_id") or "general",
                      "from": data.get("from"), "to": data.get("to"),
                      "content": data.get("content"), "ts_ms": data.get("ts_ms"),
                      "msg_id": data.get("message_id")}, event_id=event.event_id)


@router.route("/v1/events", auth=OPEN)
def events(req):
    to = req.arg("to") or None
    client = to or f"anonymous@{req.context.get('identity', {}).get('sourceIp', '?')}"
    return sse_response(req, target=to, types=("message.new",), render=event_frame,
                        heartbeat={"type": "heartbeat", "ts_ms": now_ms()},
                        subscriber=f"hub2d:{client}")


@router.route("/v1/replies", methods=["POST"], auth=OPEN)
def post_reply(req):
    body = req.json
    record = messaging.reply(req.principal.network_id,
                             event_id=require(body.get("event_id"), "event_id"),
                             text=require(body.get("text"), "text"),
                             status=require(body.get("status"), "status"),
                             error=body.get("error"), truncated=body.get("truncated"),
                             orig_len=body.get("orig_len"), source="hub2d")
    return {"ok": True, "reply_id": record.reply_id, "event_id": record.event_id,
            "latency_ms": int(record.latency_ms)}


def reply_view(record) -> dict:
    return {"reply_id": record.reply_id, "event_id": record.event_id,
            "room_id": record.channel or "general", "text": record.text,
            "status": record.status, "latency_ms": int(record.latency_ms),
            "error": record.error, "truncated": int(record.truncated or 0),
            "orig_len": None if record.orig_len is None else int(record.orig_len),
            "ts_ms": int(record.created_at), "created_at": sql_time(record.created_at)}


@router.route("/v1/admin/replies", auth=OPEN)
def admin_replies(req):
    event_id = req.arg("event_id")
    found = messaging.replies(req.principal.network_id, event_id) if event_id else []
    return {"replies": [reply_view(r) for r in found]}
