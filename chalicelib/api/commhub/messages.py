"""CommHub /api/messages and the SSE stream /events/{alias}: translation only.

The stream carries CommHub's event types — `new_task`, `new_message`, `new_reply`,
`broadcast` — and, when nothing happened, a comment with its position instead of CommHub's
`heartbeat` event (no `data:` but messages and work: push/sse.py). Unlike CommHub, every
event has an `id:`, so a reconnect with `Last-Event-ID` (or `?last_event_id=`) replays what
was missed.
"""
from chalicelib.api.commhub import Scoped, listing, network_of, router
from chalicelib.api.inputs import Cursor, Id, Limit
from chalicelib.api.streaming import StreamQuery, sse_response
from chalicelib.clock import sql_time
from chalicelib.push import sse
from chalicelib.services import messaging, nodes


class MessageQuery(Scoped):
    alias: Id | None = None
    limit: Limit = 50
    cursor: Cursor | None = None

STREAM_TYPES = ("message.new", "message.reply", "task.created", "task.updated")


def message_view(message) -> dict:
    return {"message_id": message.msg_id, "from": message.sender, "to": message.recipient,
            "content": message.content, "type": message.type,
            "status": "read" if message.read_at else "sent",
            "created_at": sql_time(message.created_at)}


@router.route("/api/messages", query=MessageQuery)
def list_messages(req):
    query = req.params
    found, cursor = messaging.list_messages(network_of(req), recipient=query.alias,
                                            limit=query.limit, cursor=query.cursor)
    return listing("messages", [message_view(m) for m in found], next_cursor=cursor)


def stream_event(event, alias: str, network_id: str) -> str | None:
    data, kind = event.data, None
    if event.type == "message.new" and event.target is None:
        kind, payload = "broadcast", {"content": data.get("content"), "from": data.get("from")}
    elif event.type == "message.new":
        kind, payload = "new_message", {"message": data.get("content"), "from": data.get("from"),
                                        "message_id": data.get("message_id")}
    elif event.type == "message.reply":
        kind, payload = "new_reply", {"from": data.get("from"),
                                      "message_id": data.get("reply_id"),
                                      "in_reply_to": data.get("message_id") or data.get("in_reply_to"),
                                      "status": data.get("status")}
    elif data.get("status") == "assigned" and data.get("node_id") == alias:
        node = nodes.find(network_id, alias)
        kind, payload = "new_task", {"inbox_count": int(node.active_tasks) if node else 1,
                                     "priority": data.get("priority"), "from": data.get("from"),
                                     "task_id": data.get("task_id")}
    if kind is None:
        return None
    return sse.frame({"type": kind, **payload}, event_id=event.event_id, event=kind)


@router.route("/events/{alias}", query=StreamQuery)
def events(req, alias):
    network_id = req.principal.network_id
    return sse_response(req, target=alias, types=STREAM_TYPES,
                        render=lambda event: stream_event(event, alias, network_id),
                        subscriber=f"commhub:{alias}")
