"""Platform /api/v1/messages: translation only. Agents are nodes: `recipient_agent_id`
is the recipient's node id, `agent_id` filters on the recipient."""
from chalice import Response

from chalicelib.api.inputs import Content, IdempotencyKey, Id, Input, Line, Name, Page, Word
from chalicelib.api.platform import router
from chalicelib.clock import iso
from chalicelib.services import messaging


class MessageQuery(Page):
    agent_id: Id | None = None
    channel: Name | None = None


class NewMessage(Input):
    sender_agent_id: Id
    recipient_agent_id: Id
    body: Content
    channel: Name | None = None
    subject: Line | None = None
    message_type: Word | None = None
    idempotency_key: IdempotencyKey | None = None


def message_view(message) -> dict:
    return {"id": message.msg_id, "sender_agent_id": message.sender,
            "recipient_agent_id": message.recipient, "channel": message.channel or "direct",
            "subject": message.subject, "body": message.content, "message_type": message.type,
            "is_read": bool(message.read_at), "read_at": iso(message.read_at),
            "created_at": iso(message.created_at)}


@router.route("/api/v1/messages", query=MessageQuery)
def list_messages(req):
    query = req.params
    found, cursor = messaging.list_messages(
        req.principal.network_id, recipient=query.agent_id, channel=query.channel or None,
        limit=query.limit, offset=query.offset, cursor=query.cursor)
    return Response(body=[message_view(m) for m in found],
                    headers={"X-Next-Cursor": cursor} if cursor else {})


@router.route("/api/v1/messages/send", methods=["POST"], body=NewMessage)
def send(req):
    body = req.body
    message, sent = messaging.send(
        req.principal.network_id, account_id=req.principal.account_id,
        sender=body.sender_agent_id, recipient=body.recipient_agent_id,
        content=body.body, channel=body.channel, subject=body.subject,
        type=body.message_type or "text", source="platform",
        idempotency_key_value=req.idempotency_key())
    return Response(body=message_view(message), status_code=201 if sent else 200)


@router.route("/api/v1/messages/{message_id}/read", methods=["PATCH"])
def mark_read(req, message_id):
    return message_view(messaging.mark_read(req.principal.network_id, message_id))
