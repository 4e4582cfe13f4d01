"""Platform /api/v1/chat: translation only. Conversations belong to the user who made
them. Sending a message waits for the agent's answer up to `wait` seconds (default 20,
never past API Gateway's limit): 200 with both messages when it came, 202 with
`assistant_message: null` when it is still coming (it arrives on /ws as `chat.message`)."""
from typing import Annotated

from chalice import Response
from msgspec import Meta

from chalicelib.api.inputs import Id, Input, Title
from chalicelib.api.platform import router
from chalicelib.api.platform.listing import Paging, listing, no_content
from chalicelib.clock import iso
from chalicelib.services import orchestration

DEFAULT_WAIT_S = 20.0


class NewConversation(Input):
    agent_id: Id
    title: Title | None = None


class NewChatMessage(Input):
    content: Annotated[str, Meta(min_length=1, max_length=32_000)]
    wait: Annotated[float, Meta(ge=0, le=25)] = DEFAULT_WAIT_S


class MessagesQuery(Input):
    limit: Annotated[int, Meta(ge=1, le=500)] = 100
    cursor: Annotated[str, Meta(max_length=2048)] | None = None


def owner(req) -> str:
    return req.principal.user_id or req.principal.account_id


def conversation_view(conversation) -> dict:
    return {"id": conversation.id, "title": conversation.title,
            "agent_id": conversation.agent_id, "user_id": conversation.created_by,
            "is_active": bool(conversation.is_active),
            "message_count": int(conversation.message_count or 0),
            "total_tokens": int(conversation.total_tokens or 0),
            "total_cost_usd": float(conversation.total_cost_usd or 0),
            "last_message_at": iso(conversation.last_message_at),
            "created_at": iso(conversation.created_at)}


def message_view(message) -> dict | None:
    if message is None:
        return None
    return {"id": message.id, "conversation_id": message.conversation_id, "role": message.role,
            "content": message.content, "task_id": message.task_id,
            "tokens_used": int(message.tokens_used or 0),
            "cost_usd": float(message.cost_usd or 0), "created_at": iso(message.created_at)}


@router.route("/api/v1/chat/conversations", query=Paging)
def list_conversations(req):
    found = orchestration.chat.list_conversations(req.principal.network_id, owner(req), **req.params.window())
    return listing(found, conversation_view, req.params)


@router.route("/api/v1/chat/conversations", methods=["POST"], body=NewConversation)
def create_conversation(req):
    conversation = orchestration.chat.create(req.principal.network_id, owner(req),
                                             agent_id=req.body.agent_id, title=req.body.title)
    return Response(body=conversation_view(conversation), status_code=201)


@router.route("/api/v1/chat/conversations/{conversation_id}", methods=["DELETE"])
def delete_conversation(req, conversation_id):
    orchestration.chat.delete(req.principal.network_id, conversation_id, owner(req))
    return no_content()


@router.route("/api/v1/chat/conversations/{conversation_id}/messages", query=MessagesQuery)
def list_messages(req, conversation_id):
    found = orchestration.chat.messages(req.principal.network_id, conversation_id, owner(req),
                                        limit=req.params.limit, cursor=req.params.cursor)
    body = {"items": [message_view(m) for m in found.items], "total": found.total,
            "limit": req.params.limit}
    if found.next_cursor:
        body["next_cursor"] = found.next_cursor
    return body


@router.route("/api/v1/chat/conversations/{conversation_id}/messages", methods=["POST"],
              body=NewChatMessage)
def send_message(req, conversation_id):
    answer = orchestration.chat.send(req.principal.network_id, conversation_id, owner(req), req.body.content,
                                     deadline=req.deadline(req.body.wait))
    pending = answer["delivered"] and answer["assistant_message"] is None
    return Response(body={"user_message": message_view(answer["user_message"]),
                          "assistant_message": message_view(answer["assistant_message"]),
                          "delivered": answer["delivered"], "task_id": answer["task_id"],
                          "status": "pending" if pending else "answered"
                          if answer["delivered"] else "undelivered"},
                    status_code=202 if pending else 200)
