"""Platform /api/v1/messages: translation only. Agents are nodes: `recipient_agent_id`
is the recipient's node id, `agent_id` filters on the recipient."""
from chalice import Response

from chalicelib.api.platform import router
from chalicelib.clock import iso
from chalicelib.errors import require
from chalicelib.services import messaging


def message_view(message) -> dict:
    return {"id": message.msg_id, "sender_agent_id": message.sender,
            "recipient_agent_id": message.recipient, "channel": message.channel or "direct",
            "subject": message.subject, "body": message.content, "message_type": message.type,
            "is_read": bool(message.read_at), "read_at": iso(message.read_at),
            "created_at": iso(message.created_at)}


@router.route("/api/v1/messages")
def list_messages(req):
    found, cursor = messaging.list_messages(
        req.principal.network_id, recipient=req.arg("agent_id") or None,
        channel=req.arg("channel") or None, limit=req.int_arg("limit", 50, minimum=1, maximum=500),
        offset=req.int_arg("offset", 0, maximum=10_000), cursor=req.arg("cursor"))
    return Response(body=[message_view(m) for m in found],
                    headers={"X-Next-Cursor": cursor} if cursor else {})


@router.route("/api/v1/messages/send", methods=["POST"])
def send(req):
    body = req.json
    message, sent = messaging.send(
        req.principal.network_id, account_id=req.principal.account_id,
        sender=require(body.get("sender_agent_id"), "sender_agent_id"),
        recipient=require(body.get("recipient_agent_id"), "recipient_agent_id"),
        content=require(body.get("body"), "body"), channel=body.get("channel"),
        subject=body.get("subject"), type=body.get("message_type") or "text", source="platform",
        idempotency_key_value=req.idempotency_key())
    return Response(body=message_view(message), status_code=201 if sent else 200)


@router.route("/api/v1/messages/{message_id}/read", methods=["PATCH"])
def mark_read(req, message_id):
    return message_view(messaging.mark_read(req.principal.network_id, message_id))
