"""Chat: conversations between a user and an agent, answered by the agent's node.

A user message is stored, then carried to the agent's node as a task (pushed over the
node's WebSocket: only a node with a live connection takes it, so nothing waits in a
queue behind a node that is not there). The node's result becomes the assistant message
(`chat_task_ended`, exactly once per task end), which is listed with the conversation and
sent on /ws as `chat.message`. The request that sent the message waits for the answer a
bounded time (under API Gateway's 29 s): an answer in time comes back in the response;
otherwise the response says it is pending and the answer arrives on /ws.

With no connected node (the agent is stopped, has no worker, or its worker is offline or
unplugged) the answer says so at once: a `system` message in the conversation, and
`delivered: false` — nothing hangs. Conversations belong to the user who started them:
another user's conversation is not found.
"""
from __future__ import annotations

import json
import time

from pynamodb.exceptions import DoesNotExist

from chalicelib.clock import now_ms
from chalicelib.errors import Conflict, NotFound, PayloadTooLarge, ValidationFailed
from chalicelib.ids import ulid
from chalicelib.services import events, nodes, tasks
from chalicelib.services.orchestration import agents, work
from chalicelib.services.records import Family, Page, commit
from chalicelib.store.base import page
from chalicelib.store.conversations import (ChatMessageRecord as CM, ConversationRecord as C,
                                            chat_message_pk, owner_index_pk)
from chalicelib.store.records import time_key

CONVERSATIONS = Family(C, kind="conversation", id_prefix="cnv", label="Conversation")
MAX_CONTENT = 32_000
HISTORY = 20                 # earlier messages sent to the agent with a new one
POLL_S = 0.02


def get(network_id: str, conversation_id: str, owner: str) -> C:
    conversation = CONVERSATIONS.get(network_id, conversation_id)
    if conversation.created_by != owner:
        raise NotFound("Conversation not found")
    return conversation


def list_conversations(network_id: str, owner: str, *, limit=50, offset=0, cursor=None) -> Page:
    """The owner's conversations, most recent message first (the by_time index)."""
    pk = owner_index_pk(network_id, owner)
    items, next_cursor = page(C, pk, limit=limit, offset=offset, cursor=cursor,
                              newest_first=True, index=C.by_time)
    return Page(items, next_cursor, C.by_time.count(pk))


def create(network_id: str, owner: str, *, agent_id: str, title: str | None = None) -> C:
    agent = agents.get(network_id, agent_id)
    conversation = CONVERSATIONS.new(network_id, created_by=owner, agent_id=agent.id,
                                     title=(title or f"Chat with {agent.name}")[:500],
                                     is_active=True, total_tokens=0, total_cost_usd=0,
                                     message_count=0, time_pk=owner_index_pk(network_id, owner))
    conversation.last_message_at = conversation.created_at
    conversation.time_sk = time_key(conversation.created_at, conversation.id)
    return CONVERSATIONS.create(conversation, event={"agent_id": agent.id})


def delete(network_id: str, conversation_id: str, owner: str) -> None:
    conversation = get(network_id, conversation_id, owner)
    CONVERSATIONS.delete(conversation, event={"agent_id": conversation.agent_id})


def messages(network_id: str, conversation_id: str, owner: str, *, limit=100,
             cursor=None) -> Page:
    """Oldest first; the total is the conversation's message count (kept with each one)."""
    conversation = get(network_id, conversation_id, owner)
    items, next_cursor = page(CM, chat_message_pk(network_id, conversation_id), limit=limit,
                              cursor=cursor)
    return Page(items, next_cursor, int(conversation.message_count or 0))


def _add(conversation: C, role: str, content: str, *, task_id: str | None = None,
         extra=None) -> CM:
    """Append a message (with its event, and the conversation's counters) atomically."""
    stamp = now_ms()
    message = CM(chat_message_pk(conversation.network_id, conversation.id), ulid(stamp),
                 kind="chat_message", network_id=conversation.network_id,
                 conversation_id=conversation.id, role=role, content=content, task_id=task_id,
                 created_at=stamp)
    message.id = f"msg_{message.sk}"
    event = events.record(conversation.network_id, "chat.message",
                          {"id": message.id, "conversation_id": conversation.id,
                           "agent_id": conversation.agent_id, "role": role, "content": content,
                           "task_id": task_id}, source=conversation.created_by)

    def writes(tx):
        tx.save(message, condition=CM.pk.does_not_exist())
        tx.update(C(conversation.pk, conversation.sk),
                  actions=[C.message_count.add(1), C.last_message_at.set(stamp),
                           C.time_sk.set(time_key(stamp, conversation.id))],
                  condition=C.deleted_at.does_not_exist())
        if extra:
            extra(tx, message)
    return message if commit(conversation.network_id, writes, event) else None


def connected_node(agent) -> str | None:
    """The agent's node if it can be reached now (started, online, with a live socket)."""
    if not agents.receives_work(agent):
        return None
    node = nodes.find(agent.network_id, agent.worker_id)
    if node is None or not node.connection_id or not nodes.is_online(node):
        return None
    return node.node_id


def send(network_id: str, conversation_id: str, owner: str, content, *,
         deadline: float) -> dict:
    """Store a user message, carry it to the agent's node, and wait for the answer until
    `deadline` (time.monotonic())."""
    if not isinstance(content, str) or not content.strip():
        raise ValidationFailed("content", "'content' is required")
    if len(content) > MAX_CONTENT:
        raise PayloadTooLarge(f"a chat message is at most {MAX_CONTENT} characters")
    conversation = get(network_id, conversation_id, owner)
    try:
        agent = agents.get(network_id, conversation.agent_id)
    except NotFound:
        raise Conflict("the conversation's agent was deleted") from None
    history = page(CM, chat_message_pk(network_id, conversation_id), limit=HISTORY,
                   newest_first=True)[0][::-1]
    user_message = _add(conversation, "user", content)
    node_id = connected_node(agent)
    task = None
    if node_id:
        try:
            task, _ = work.create_task(
                network_id, owner_kind="chat",
                refs={"conversation_id": conversation.id, "message_id": user_message.sk},
                key=f"chat:{conversation.id}:{user_message.sk}", created_by=owner,
                title=f"Chat with {agent.name}", agent_id=agent.id, max_attempts=1,
                payload={"content": content, "params": {
                    "conversation_id": conversation.id, "message_id": user_message.id,
                    "system_prompt": (agent.settings or {}).get("system_prompt"),
                    "history": [{"role": m.role, "content": m.content} for m in history]}},
                connected_only=True)
        except NotFound:
            task = None  # the node filled up or went away meanwhile
    if task is None:
        notice = _add(conversation, "system",
                      f"{agent.name} has no connected node right now; the message was not "
                      "delivered. Start the agent or bring its worker online and send it again.")
        return {"user_message": user_message, "assistant_message": notice, "delivered": False,
                "task_id": None}
    _link_reply(user_message, task.task_id)
    reply = _wait(network_id, conversation, user_message, task.task_id, deadline)
    return {"user_message": user_message, "assistant_message": reply, "delivered": True,
            "task_id": task.task_id}


def _link_reply(message: CM, task_id: str) -> None:
    message.update(actions=[CM.task_id.set(task_id)])


def _wait(network_id: str, conversation: C, message: CM, task_id: str, deadline: float):
    """The answer once the task has ended (applying it here if the reaction has not yet),
    or None at the deadline."""
    started = time.monotonic()
    while True:
        task = tasks.get(network_id, task_id)
        if task.status in work.ENDED:
            link = work.link(network_id, task_id)
            if link is not None and link.handled != work.marker(task):
                chat_task_ended(network_id, link, task)
            return _reply(message)
        now = time.monotonic()
        if now >= deadline:
            return None
        time.sleep(min(max(POLL_S, (now - started) / 4), 0.1, max(0.0, deadline - now)))


def _reply(message: CM) -> CM | None:
    fresh = CM.get(message.pk, message.sk, consistent_read=True)
    if not fresh.reply_id:
        return None
    try:
        return CM.get(message.pk, fresh.reply_id, consistent_read=True)
    except DoesNotExist:
        return None


def answer_text(result) -> str:
    if isinstance(result, dict):
        for name in ("output", "content", "text", "answer"):
            if isinstance(result.get(name), str):
                return result[name]
    if isinstance(result, str):
        return result
    return json.dumps(result, default=str)


@work.owner("chat")
def chat_task_ended(network_id: str, link, task) -> None:
    refs = link.refs or {}
    try:
        conversation = CONVERSATIONS.get(network_id, refs["conversation_id"])
    except NotFound:
        return
    if task.status == "completed":
        role, content = "assistant", answer_text(task.result)
    else:
        role, content = "system", f"The agent's node did not answer: {task.error or task.status}"
    question = CM(chat_message_pk(network_id, conversation.id), refs["message_id"])

    def extra(tx, reply):
        work.settle(tx, link, task)
        tx.update(question, actions=[CM.reply_id.set(reply.sk)])
    # None when answered already (the link was settled), or the conversation was deleted
    _add(conversation, role, content, task_id=task.task_id, extra=extra)
