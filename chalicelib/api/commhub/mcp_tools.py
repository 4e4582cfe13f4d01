"""The tools of CommHub's MCP endpoint (api/commhub/mcp.py): each a CommHub HTTP route's
work through the same services, rendered with the same views. Loaded on the first MCP
request, not at cold start. Every tool that acts as an agent takes its `alias`."""
from __future__ import annotations

from typing import Annotated, Callable, Literal, NamedTuple

from msgspec import Meta

from chalicelib.api.commhub.messages import message_view
from chalicelib.api.commhub.work import completion_view, session, sessions, task_view
from chalicelib.api.inputs import (Content, Id, IdempotencyKey, Input, Line, Name, Object, Text,
                                   Title, Word, schema_components)
from chalicelib.errors import NotFound
from chalicelib.services import messaging, nodes, tasks

# --------------------------------------------------------------------------- inputs

class Status(Input):
    alias: Id
    status: Literal["idle", "working", "busy", "offline"] = "idle"
    task: Line | None = None
    progress: Line | Annotated[float, Meta(ge=0, le=100)] | None = None
    model: Name | None = None
    agent: Name | None = None
    capabilities: Annotated[list[Word], Meta(max_length=100)] | None = None


class Inbox(Input):
    alias: Id
    limit: Annotated[int, Meta(ge=1, le=100)] = 20


class InboxAck(Input):
    alias: Id
    message_ids: Annotated[list[Id], Meta(min_length=1, max_length=100)]


class NewTask(Input):
    alias: Id
    to: Id
    content: Text
    title: Title | None = None
    priority: Word | None = None
    idempotency_key: IdempotencyKey | None = None


class NewMessage(Input):
    alias: Id
    to: Id
    content: Content
    idempotency_key: IdempotencyKey | None = None


class Reply(Input):
    alias: Id
    message_id: Id
    content: Content
    status: Literal["ok", "error"] = "ok"


class Ack(Input):
    alias: Id
    message_id: Id


class Completion(Input):
    alias: Id
    task_id: Id
    result: Object | Text | None = None
    status: Literal["completed", "failed"] = "completed"
    error: Text | None = None


class TaskRef(Input):
    task_id: Id


class Reassignment(Input):
    task_id: Id
    to: Id


class TaskList(Input):
    status: Word | None = None
    to_name: Id | None = None
    from_name: Id | None = None
    limit: Annotated[int, Meta(ge=1, le=200)] = 50


class AllStatus(Input):
    status: Word | None = None


class SessionRef(Input):
    alias: Id


class Broadcast(Input):
    alias: Id
    content: Content


class Completions(Input):
    limit: Annotated[int, Meta(ge=1, le=200)] = 20


# --------------------------------------------------------------------------- tools


def report_status(principal, args: Status) -> dict:
    metadata = {k: v for k, v in (("task", args.task), ("progress", args.progress),
                                  ("model", args.model), ("agent", args.agent)) if v is not None}
    node = nodes.find(principal.network_id, args.alias)
    if node is None or args.capabilities is not None:
        node = nodes.register(principal, args.alias, kind="commhub", metadata=metadata,
                              capabilities=args.capabilities)
    node = nodes.heartbeat(principal.network_id, args.alias, activity=args.status,
                           metadata=metadata)
    return session(principal.network_id, node)


def get_inbox(principal, args: Inbox) -> dict:
    network_id = principal.network_id
    messages = messaging.receive(network_id, args.alias, count=args.limit)
    handed = tasks.pull(network_id, args.alias, limit=None) \
        if nodes.find(network_id, args.alias) else []
    return {"alias": args.alias, "messages": [message_view(m) for m in messages],
            "tasks": [task_view(t) for t in handed],
            "count": len(messages) + len(handed)}


def ack_inbox(principal, args: InboxAck) -> dict:
    outcome = {m: messaging.ack(principal.network_id, args.alias, m) for m in args.message_ids}
    return {"acked": [m for m, first in outcome.items() if first],
            "already_acked": [m for m, first in outcome.items() if not first]}


def send_task(principal, args: NewTask) -> dict:
    task, _ = tasks.create(principal, title=args.title or args.content[:80] or "task",
                           source="commhub", description=args.content, priority=args.priority,
                           from_name=args.alias, to_name=args.to,
                           idempotency_key_value=args.idempotency_key)
    return task_view(task)


def send_message(principal, args: NewMessage) -> dict:
    message, _ = messaging.send(principal.network_id, account_id=principal.account_id,
                                sender=args.alias, recipient=args.to, content=args.content,
                                source="commhub", idempotency_key_value=args.idempotency_key)
    return message_view(message)


def _inbound(principal, alias: str, message_id: str):
    message = messaging.get(principal.network_id, message_id)
    if message.recipient != alias:
        raise NotFound(f"message {message_id} not found in {alias}'s inbox")
    return message


def send_reply(principal, args: Reply) -> dict:
    inbound = _inbound(principal, args.alias, args.message_id)
    reply = messaging.reply(principal.network_id, event_id=inbound.event_id, text=args.content,
                            status=args.status, source="commhub")
    return {"reply_id": reply.reply_id, "in_reply_to": args.message_id, "to": inbound.sender,
            "status": args.status}


def send_ack(principal, args: Ack) -> dict:
    inbound = _inbound(principal, args.alias, args.message_id)
    first = messaging.ack(principal.network_id, args.alias, args.message_id)
    if first:  # the sender hears of it once
        messaging.reply(principal.network_id, event_id=inbound.event_id, text="ack", status="ok",
                        source="commhub")
    return {"message_id": args.message_id, "acked": True, "already_acked": not first}


def report_completion(principal, args: Completion) -> dict:
    network_id, actor = principal.network_id, f"node:{args.alias}"
    if args.status == "failed":
        task = tasks.fail(network_id, args.task_id, node_id=args.alias, actor=actor,
                          error=args.error or (args.result if isinstance(args.result, str)
                                               else "reported failed"))
    else:
        task, _ = tasks.complete(network_id, args.task_id, node_id=args.alias, actor=actor,
                                 result=args.result)
    return task_view(task)


def retry_task(principal, args: TaskRef) -> dict:
    network_id, actor = principal.network_id, principal.account_id
    task = tasks.get(network_id, args.task_id)
    if task.status == "dead_lettered":
        return task_view(tasks.retry_dead_letter(network_id, args.task_id, actor=actor))
    return task_view(tasks.set_status(network_id, args.task_id, "pending", actor=actor))


def cancel_task(principal, args: TaskRef) -> dict:
    return task_view(tasks.cancel(principal.network_id, args.task_id, actor=principal.account_id))


def reassign_task(principal, args: Reassignment) -> dict:
    return task_view(tasks.reassign(principal.network_id, args.task_id, args.to,
                                    actor=principal.account_id))


def get_task(principal, args: TaskRef) -> dict:
    task = tasks.get(principal.network_id, args.task_id)
    history, _ = tasks.task_events(principal.network_id, args.task_id, limit=100)
    return {**task_view(task), "events": [
        {"to_status": e.to_status, "from_status": e.from_status, "actor": e.actor,
         "node": e.assigned_node, "reason": e.reason} for e in history]}


def list_tasks(principal, args: TaskList) -> dict:
    filters = tasks.TaskFilter(status=args.status, to_name=args.to_name, from_name=args.from_name)
    found, cursor = tasks.list_tasks(principal.network_id, filters, limit=args.limit)
    return {"tasks": [task_view(t) for t in found], "count": len(found), "next_cursor": cursor}


def get_all_status(principal, args: AllStatus) -> dict:
    found = sessions(principal.network_id, args.status)
    return {"sessions": found, "count": len(found)}


def get_session_status(principal, args: SessionRef) -> dict:
    return session(principal.network_id, nodes.get(principal.network_id, args.alias))


def broadcast(principal, args: Broadcast) -> dict:
    event, receivers = messaging.broadcast(principal.network_id, sender=args.alias,
                                           content=args.content, source="commhub")
    return {"broadcast_id": event.data.get("broadcast_id"), "receivers": receivers,
            "count": len(receivers)}


def get_completions(principal, args: Completions) -> dict:
    found, cursor = tasks.completions(principal.network_id, limit=args.limit)
    return {"completions": [completion_view(c) for c in found], "count": len(found),
            "next_cursor": cursor}


class Tool(NamedTuple):
    run: Callable
    model: type
    description: str
    read_only: bool = False


TOOLS = {
    "report_status": Tool(report_status, Status, "Report this agent's status (idle, working, "
                          "offline), its current task and progress; registers the alias."),
    "report_completion": Tool(report_completion, Completion, "Report a task this agent holds "
                              "as completed (with its result) or failed."),
    "get_inbox": Tool(get_inbox, Inbox, "Take this agent's pending messages and tasks."),
    "ack_inbox": Tool(ack_inbox, InboxAck, "Acknowledge inbox messages so they are not "
                      "delivered again."),
    "send_task": Tool(send_task, NewTask, "Send a task to another agent (by alias)."),
    "send_message": Tool(send_message, NewMessage, "Send a message to another agent."),
    "send_reply": Tool(send_reply, Reply, "Reply to a message in this agent's inbox."),
    "send_ack": Tool(send_ack, Ack, "Acknowledge a message to its sender."),
    "retry_task": Tool(retry_task, TaskRef, "Queue a failed or dead-lettered task again."),
    "cancel_task": Tool(cancel_task, TaskRef, "Cancel a task."),
    "reassign_task": Tool(reassign_task, Reassignment, "Give a task to another agent."),
    "get_task": Tool(get_task, TaskRef, "A task, with its history.", read_only=True),
    "list_tasks": Tool(list_tasks, TaskList, "Tasks, newest first, optionally filtered.",
                       read_only=True),
    "get_all_status": Tool(get_all_status, AllStatus, "Every agent session's status.",
                           read_only=True),
    "get_session_status": Tool(get_session_status, SessionRef, "One agent session's status.",
                               read_only=True),
    "broadcast": Tool(broadcast, Broadcast, "Send a message to every other agent."),
    "get_completions": Tool(get_completions, Completions, "Recently completed tasks.",
                            read_only=True),
}


def tool_list() -> list[dict]:
    names = list(TOOLS)
    _, components = schema_components([TOOLS[n].model for n in names],
                                      ref_template="#/$defs/{name}")
    listed = []
    for name in names:
        tool = TOOLS[name]
        schema = dict(components[tool.model.__name__])
        schema.pop("title", None)
        listed.append({"name": name, "description": tool.description, "inputSchema": schema,
                       "annotations": {"readOnlyHint": tool.read_only}})
    return listed
